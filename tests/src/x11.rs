//! The X display the desktop tests run in (`xvfb-run`), as a window manager sees it: the
//! app's top-level windows by title, and the close button (`WM_DELETE_WINDOW`, what a
//! window manager sends when the user clicks ×). libX11 is loaded at run time.

use std::ffi::{CStr, CString};
use std::os::raw::{c_int, c_long, c_uint};
use std::ptr;

use x11_dl::xlib;

/// A connection to `$DISPLAY`.
pub struct Display {
    x: xlib::Xlib,
    display: *mut xlib::Display,
}

impl Display {
    #[track_caller]
    pub fn open() -> Display {
        let x = xlib::Xlib::open().expect("libX11 (Debian libx11-6)");
        // Windows of other tests' apps come and go while the tree is walked: an error
        // about one that just went (BadWindow) is no reason to end the test process,
        // which is what Xlib's default handler does.
        unsafe extern "C" fn ignore(_: *mut xlib::Display, _: *mut xlib::XErrorEvent) -> std::os::raw::c_int {
            0
        }
        // SAFETY: the handler touches nothing; it is process-wide, as the tests want.
        unsafe { (x.XSetErrorHandler)(Some(ignore)) };
        // SAFETY: a null name opens $DISPLAY; the result is checked.
        let display = unsafe { (x.XOpenDisplay)(ptr::null()) };
        assert!(!display.is_null(), "cannot open the X display (is DISPLAY set? scripts run under xvfb-run)");
        Display { x, display }
    }

    /// The viewable windows titled `title` of the app whose first process is `pid` (by
    /// `_NET_WM_PID`, which GTK sets, of it or a process it started: the app's window
    /// has a process of its own): another test's app may have windows of the same title
    /// on the display.
    pub fn windows_of(&self, pid: u32, title: &str) -> Vec<xlib::Window> {
        let app = crate::procs::tree(pid);
        // SAFETY: the display is open for as long as `self`.
        let root = unsafe { (self.x.XDefaultRootWindow)(self.display) };
        let mut found = Vec::new();
        let mut stack = vec![root];
        while let Some(window) = stack.pop() {
            stack.extend(self.children(window));
            if self.viewable(window)
                && self.title(window).as_deref() == Some(title)
                && self.pid(window).is_some_and(|p| app.contains(&p))
            {
                found.push(window);
            }
        }
        found
    }

    /// Asks `window` to close, as a window manager's close button does.
    pub fn close(&self, window: xlib::Window) {
        let atom = |name: &str| {
            let name = CString::new(name).unwrap();
            // SAFETY: a valid display and a NUL-terminated name.
            unsafe { (self.x.XInternAtom)(self.display, name.as_ptr(), xlib::False) }
        };
        let mut data = xlib::ClientMessageData::new();
        data.set_long(0, atom("WM_DELETE_WINDOW") as c_long);
        data.set_long(1, xlib::CurrentTime as c_long);
        let mut event = xlib::XEvent {
            client_message: xlib::XClientMessageEvent {
                type_: xlib::ClientMessage,
                serial: 0,
                send_event: xlib::True,
                display: self.display,
                window,
                message_type: atom("WM_PROTOCOLS"),
                format: 32,
                data,
            },
        };
        // SAFETY: a valid display, window and event; the queue is flushed after.
        unsafe {
            (self.x.XSendEvent)(self.display, window, xlib::False, xlib::NoEventMask, &mut event);
            (self.x.XFlush)(self.display);
        }
    }

    fn children(&self, window: xlib::Window) -> Vec<xlib::Window> {
        let (mut root, mut parent) = (0, 0);
        let mut children: *mut xlib::Window = ptr::null_mut();
        let mut count: c_uint = 0;
        // SAFETY: out-pointers to locals; the list is freed with XFree below.
        let ok = unsafe {
            (self.x.XQueryTree)(self.display, window, &mut root, &mut parent, &mut children, &mut count)
        };
        if ok == 0 || children.is_null() {
            return Vec::new();
        }
        // SAFETY: XQueryTree returned `count` windows at `children`.
        let list = unsafe { std::slice::from_raw_parts(children, count as usize) }.to_vec();
        // SAFETY: allocated by Xlib.
        unsafe { (self.x.XFree)(children.cast()) };
        list
    }

    fn viewable(&self, window: xlib::Window) -> bool {
        // SAFETY: XWindowAttributes is plain data, filled by the call.
        let mut attributes: xlib::XWindowAttributes = unsafe { std::mem::zeroed() };
        let ok = unsafe { (self.x.XGetWindowAttributes)(self.display, window, &mut attributes) };
        ok != 0 && attributes.map_state == xlib::IsViewable
    }

    fn pid(&self, window: xlib::Window) -> Option<u32> {
        let name = CString::new("_NET_WM_PID").unwrap();
        // SAFETY: a valid display and a NUL-terminated name.
        let atom = unsafe { (self.x.XInternAtom)(self.display, name.as_ptr(), xlib::True) };
        if atom == 0 {
            return None;
        }
        let (mut kind, mut format, mut items, mut after) = (0, 0, 0, 0);
        let mut data: *mut std::os::raw::c_uchar = ptr::null_mut();
        // SAFETY: out-pointers to locals; the data is freed with XFree below.
        let ok = unsafe {
            (self.x.XGetWindowProperty)(
                self.display,
                window,
                atom,
                0,
                1,
                xlib::False,
                xlib::XA_CARDINAL,
                &mut kind,
                &mut format,
                &mut items,
                &mut after,
                &mut data,
            )
        };
        if ok != 0 || data.is_null() {
            return None;
        }
        // SAFETY: a 32-bit property comes back as one C long per item.
        let pid =
            (format == 32 && items == 1).then(|| unsafe { *(data as *const std::os::raw::c_ulong) } as u32);
        unsafe { (self.x.XFree)(data.cast()) };
        pid
    }

    fn title(&self, window: xlib::Window) -> Option<String> {
        let mut name: *mut std::os::raw::c_char = ptr::null_mut();
        // SAFETY: the out-pointer is a local; a returned name is freed with XFree.
        let ok: c_int = unsafe { (self.x.XFetchName)(self.display, window, &mut name) };
        if ok == 0 || name.is_null() {
            return None;
        }
        // SAFETY: XFetchName returns a NUL-terminated string.
        let title = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
        unsafe { (self.x.XFree)(name.cast()) };
        Some(title)
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        // SAFETY: opened in `open`, closed once.
        unsafe { (self.x.XCloseDisplay)(self.display) };
    }
}
