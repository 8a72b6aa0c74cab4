//! Raw TCP connections to the gateway from a chosen loopback address (127.0.0.2, ...), so
//! that a test can be several clients as the gateway counts them, and can send exactly the
//! bytes an attacker would (a request head and no body, one byte at a time, nothing).

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A connection to the gateway at `base` (`http://ip:port`) from the address `from`.
pub fn connect_from(from: &str, base: &str) -> TcpStream {
    let target: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .expect("the gateway listens on ip:port");
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .expect("a TCP socket");
    let local: SocketAddr = format!("{from}:0").parse().expect("a loopback address");
    socket
        .bind(&local.into())
        .expect("binding a loopback address");
    socket
        .connect(&target.into())
        .expect("connecting to the gateway");
    socket.into()
}

/// Everything the gateway sends on `stream` until it closes it, or what came within
/// `wait` if it keeps it open.
pub fn read_answer(stream: &mut TcpStream, wait: Duration) -> String {
    stream.set_read_timeout(Some(wait)).expect("a read timeout");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether the gateway has closed `stream` (a read sees its end, or a reset) within `wait`.
pub fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).expect("a read timeout");
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}
