//! What goes into an eryx component, and the one linker that puts it together.
//!
//! WebAssembly has no real dynamic loading: CPython's `dlopen()` inside the guest is a lookup
//! table that wit-component's [`Linker`](wit_component::Linker) fixes when the component is
//! made. Every eryx component is therefore the same base libraries (CPython 3.14 for WASI and
//! its C libraries, [`base`]), our guest runtime, and zero or more native extensions, linked
//! by [`link::link_component`]. eryx-rt's build script links the base component with it,
//! eryx-rt links late (at sandbox creation) with it, and eryx-build links ahead of time in a
//! downstream crate's build with it: one code path, one output for one input. The native
//! extensions come from wheels ([`wheel`]) assembled into a site-packages tree ([`site`]).

pub mod base;
pub mod link;
pub mod site;
pub mod wheel;

pub use base::{BaseLibraries, FINGERPRINT, SITE_PACKAGES_GUEST_DIR, STDLIB_GUEST_DIR};
pub use link::{LinkError, NativeExtension, link_calls, link_component};
pub use site::SitePackages;
pub use wheel::{Wheel, WheelError, normalize_name};
