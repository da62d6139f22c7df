//! Compiles the kiosk's screens (`ui/main.slint`) with the English catalogue bundled; Russian is
//! the source language of every `@tr()` and needs no catalogue of its own.
fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_bundled_translations("../config/i18n")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        // Element names in the item tree: the touch-target test finds buttons through them.
        .with_debug_info(true);
    if let Err(e) = slint_build::compile_with_config("ui/main.slint", config) {
        // A build script reports by panicking; the message is the compiler's diagnostics.
        panic!("slint: {e}");
    }
}
