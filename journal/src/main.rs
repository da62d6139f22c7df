//! `otmetka-journal`: the journal server binary.
fn main() {
    eprintln!("otmetka-journal: not yet wired");
    std::process::exit(2);
}
