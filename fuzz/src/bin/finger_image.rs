//! AFL++ target `finger_image`: see [`abis_fuzz::finger_image`] for what the input is and what
//! is checked. Build with `cargo afl build --release`, run with `fuzz/run.sh`; outside AFL it
//! reads one input from standard input (`target/release/finger_image < crash-file` reproduces a
//! crash).

fn main() {
    afl::fuzz!(|data: &[u8]| abis_fuzz::finger_image(data));
}
