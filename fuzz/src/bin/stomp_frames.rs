//! AFL++ target `stomp_frames`: see [`abis_fuzz::stomp_frames`] for what the input is and what is checked.
//! Build with `cargo afl build --release`, run with `fuzz/run.sh`; outside AFL it reads one
//! input from standard input (`target/release/stomp_frames < crash-file` reproduces a crash).

fn main() {
    afl::fuzz!(|data: &[u8]| abis_fuzz::stomp_frames(data));
}
