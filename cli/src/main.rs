//! The `fsched` command line.

fn main() {
    println!("fsched {}", env!("CARGO_PKG_VERSION"));
}
