//! Running code that may panic on hostile input (tract's loader has `unimplemented!` arms and
//! its kernels assert on shapes) and turning a panic into a message.
//!
//! The process-wide panic hook is wrapped once: while a guarded call runs on this thread the
//! panic's message is kept for the error instead of being printed, so stderr stays clean.
//! Panics anywhere else still reach the previous hook unchanged.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    static MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                let what = info.payload_as_str().unwrap_or("panic without a message");
                let message = match info.location() {
                    Some(at) => format!("{what} (at {}:{})", short_path(at.file()), at.line()),
                    None => what.to_owned(),
                };
                MESSAGE.with(|m| *m.borrow_mut() = Some(message));
            } else {
                previous(info);
            }
        }));
    });
}

/// A dependency's source path without the machine-specific prefix:
/// `.../registry/src/<index>/tract-onnx-0.23.9/src/tensor.rs` -> `tract-onnx-0.23.9/src/tensor.rs`.
fn short_path(file: &str) -> &str {
    match file.rfind("/src/") {
        Some(i) => {
            let crate_start = file[..i].rfind('/').map_or(0, |j| j + 1);
            &file[crate_start..]
        }
        None => file,
    }
}

/// Runs `f`; a panic comes back as `Err(message)`. Nested calls are fine.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let was = GUARDED.with(|g| g.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.map_err(|payload| {
        MESSAGE
            .with(|m| m.borrow_mut().take())
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic without a message".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        let err = catch(|| -> u8 { panic!("boom {}", 7) }).unwrap_err();
        assert!(err.starts_with("boom 7 (at "), "{err}");
        assert!(err.contains("guard.rs"), "{err}");
        assert_eq!(
            short_path("/home/u/.cargo/registry/src/index-1/tract-onnx-0.23.9/src/tensor.rs"),
            "tract-onnx-0.23.9/src/tensor.rs"
        );
        assert_eq!(short_path("src/validate/guard.rs"), "src/validate/guard.rs");
        assert_eq!(catch(|| 5).unwrap(), 5);
        // Nested: the inner panic is caught by the inner guard, the outer call succeeds.
        let outer = catch(|| catch(|| panic!("inner")).unwrap_err());
        assert!(outer.unwrap().starts_with("inner"));
    }
}
