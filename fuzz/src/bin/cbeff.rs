//! AFL++ target `cbeff`: see [`abis_fuzz::cbeff`] for what the input is and what is checked.
//! Build with `cargo afl build --release`, run with `fuzz/run.sh`; outside AFL it reads one
//! input from standard input (`target/release/cbeff < crash-file` reproduces a crash).

fn main() {
    afl::fuzz!(|data: &[u8]| abis_fuzz::cbeff(data));
}
