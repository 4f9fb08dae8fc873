fn main() {
    eryx_build::Builder::new().run();
}
