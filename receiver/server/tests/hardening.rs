//! Issue 13, the receiver's hardening: one case per point, each over a real socket.
//!
//! 1. supervised tasks: a relay cut off from the broker is reported and restarted;
//! 2. listener limits; 3. bounded metric labels; 4. failed-auth throttling;
//! 5. the tenant guard; 6. the console's headers, CSRF and origin checks;
//! 7. every error in its caller's shape.

#[path = "hardening/access.rs"]
mod access;
#[path = "hardening/harness.rs"]
mod harness;
#[path = "hardening/listener.rs"]
mod listener;
#[path = "hardening/supervision.rs"]
mod supervision;
