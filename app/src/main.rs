//! `otmetka-kiosk`: the kiosk binary.
fn main() {
    eprintln!("otmetka-kiosk: not yet wired");
    std::process::exit(2);
}
