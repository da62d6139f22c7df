//! `./run demo`.
fn main() {
    println!("otmetka demo: not yet wired");
}
