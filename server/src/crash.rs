//! The crash report (Redis's `sigsegvHandler`): on SIGSEGV, SIGBUS, SIGFPE,
//! SIGILL or SIGABRT the log gets Redis's bug report frame, the signal and
//! a stack trace, then the signal is raised again with its default action,
//! so the process still dies of it (and dumps core where enabled).
//!
//! The handler only does what is async-signal-safe as far as glibc allows:
//! `open`/`write` of a path and numbers formatted on the stack, and glibc's
//! `backtrace` (preloaded at install time, as its first call may allocate)
//! and `backtrace_symbols_fd`, which Redis uses too. Lines are written in the
//! format of Redis's `serverLogFromHandler` (`pid:signal-handler (time)`),
//! not the usual log format, whose timestamp needs the allocator. Limits:
//! Redis's INFO, client list and register dump are not written (they need
//! the server's locks), nor its memory test.

use std::ffi::CString;
use std::sync::OnceLock;

/// The log file's path (`None`: stdout), fixed when the handler is installed.
static LOG_PATH: OnceLock<Option<CString>> = OnceLock::new();

const SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];

/// Installs the handler, writing to `logfile` (empty: stdout; a relative
/// path is taken from the current directory, before the server changes into
/// `dir`, as the logger opened it).
pub fn install(logfile: &str) {
    let path = (!logfile.is_empty())
        .then(|| {
            let absolute = std::env::current_dir().ok()?.join(logfile);
            CString::new(absolute.into_os_string().into_encoded_bytes()).ok()
        })
        .flatten();
    if LOG_PATH.set(path).is_err() {
        return;
    }
    // glibc loads libgcc on the first backtrace(), which allocates: done
    // here, not in the handler.
    let mut frames = [std::ptr::null_mut(); 1];
    // SAFETY: the buffer holds as many frames as passed.
    unsafe { libc::backtrace(frames.as_mut_ptr(), 1) };
    for signal in SIGNALS {
        // SAFETY: a zeroed sigaction with a valid handler and flags; the
        // handler only calls async-signal-safe functions (see the module doc).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_crash as *const () as usize;
            action.sa_flags =
                libc::SA_SIGINFO | libc::SA_RESETHAND | libc::SA_NODEFER | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

extern "C" fn on_crash(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    let fd = match LOG_PATH.get() {
        Some(Some(path)) => {
            // SAFETY: a NUL-terminated path; open is async-signal-safe.
            unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_APPEND | libc::O_CREAT | libc::O_WRONLY,
                    0o644,
                )
            }
        }
        _ => libc::STDOUT_FILENO,
    };
    if fd >= 0 {
        // SAFETY: `info` is the kernel's siginfo for this signal.
        let code = if info.is_null() {
            0
        } else {
            unsafe { (*info).si_code }
        };
        write_report(fd, signal, code);
        if fd != libc::STDOUT_FILENO {
            // SAFETY: closing the descriptor opened above.
            unsafe { libc::close(fd) };
        }
    }
    // SA_RESETHAND restored the default action: die of the signal.
    // SAFETY: raise is async-signal-safe.
    unsafe { libc::raise(signal) };
}

fn write_report(fd: libc::c_int, signal: libc::c_int, code: libc::c_int) {
    let out = |bytes: &[u8]| {
        // SAFETY: writing an initialised buffer; errors are ignored (nothing
        // else can be done in a crashing process).
        unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    };
    let mut digits = [0u8; 24];
    out(b"\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===\n");
    out(decimal(std::process::id() as i64, &mut digits));
    out(b":signal-handler (");
    // SAFETY: time with a null pointer only returns the time.
    out(decimal(
        unsafe { libc::time(std::ptr::null_mut()) },
        &mut digits,
    ));
    out(b") Redis ");
    out(crate::REDIS_VERSION.as_bytes());
    out(b" crashed by signal: ");
    out(decimal(signal as i64, &mut digits));
    out(b", si_code: ");
    out(decimal(code as i64, &mut digits));
    out(b"\n\n------ STACK TRACE ------\n\nBacktrace:\n");
    let mut frames = [std::ptr::null_mut(); 100];
    // SAFETY: the buffer holds as many frames as passed; backtrace was
    // called once at install time, so it does not allocate here.
    unsafe {
        let count = libc::backtrace(frames.as_mut_ptr(), frames.len() as libc::c_int);
        libc::backtrace_symbols_fd(frames.as_ptr(), count, fd);
    }
    out(b"\n=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n\n");
}

/// `n` in decimal, in `buf`, without allocating.
fn decimal(n: i64, buf: &mut [u8; 24]) -> &[u8] {
    let mut at = buf.len();
    let negative = n < 0;
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if negative {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimals_are_written_without_allocating() {
        let mut buf = [0u8; 24];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(12345, &mut buf), b"12345");
        assert_eq!(decimal(-7, &mut buf), b"-7");
        assert_eq!(decimal(i64::MIN, &mut buf), b"-9223372036854775808");
    }
}
