//! Who is on the other end of a loopback TCP connection: the OS user that owns the
//! connecting socket, asked of the kernel by the connection's addresses (`sock_diag`
//! over netlink, one lookup in the kernel's socket hash), else read from its socket
//! table (`/proc/net/tcp`, which the kernel writes out in full: 6.5 ms with 500 sockets,
//! most of a one-page job's time in the client when it was asked per request). The
//! local printer takes jobs only from CUPS' own user (its `ipp` backend) and from the OS
//! user who runs the client (and root); another user of the same computer gets
//! `client-error-not-authorized`: their job would be charged to this client's user.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The `/proc/net/tcp` form of an IPv4 socket address: `0100007F:1F90` for 127.0.0.1:8080
/// (the address as the kernel stores it, little-endian on the machines we run on).
fn proc_form(addr: SocketAddrV4) -> String {
    let ip = u32::from_ne_bytes(addr.ip().octets());
    format!("{ip:08X}:{:04X}", addr.port())
}

/// The uid owning the socket at `peer` connected to `local`, as `table` (the text of
/// `/proc/net/tcp`) lists it.
pub fn owner_in(table: &str, peer: SocketAddrV4, local: SocketAddrV4) -> Option<u32> {
    let (peer, local) = (proc_form(peer), proc_form(local));
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st queues timer retrnsmt uid …
        (fields.len() > 7 && fields[1] == peer && fields[2] == local).then(|| fields[7].parse().ok())?
    })
}

/// The uid owning the socket listening on `127.0.0.1:port`, as `table` (the text of
/// `/proc/net/tcp`) lists it.
pub fn listener_in(table: &str, port: u16) -> Option<u32> {
    let local = proc_form(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // State 0A: listening.
        (fields.len() > 7 && fields[1] == local && fields[3] == "0A").then(|| fields[7].parse().ok())?
    })
}

/// The kernel's table of IPv4 TCP sockets, read in large pieces (`read_to_string` would
/// start at 32 bytes and double: a dozen reads, each walking the table again).
fn socket_table() -> Option<String> {
    use std::io::Read;
    let mut table = String::with_capacity(256 * 1024);
    std::fs::File::open("/proc/net/tcp").ok()?.read_to_string(&mut table).ok()?;
    Some(table)
}

/// The uid owning the socket listening on `127.0.0.1:port`, if the kernel says: whose
/// printer a port a client announced really is.
pub fn listener(port: u16) -> Option<u32> {
    listener_in(&socket_table()?, port)
}

/// The uid owning the connecting socket at `peer` (of a connection to `local`), if the
/// kernel says.
pub fn owner(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let canon = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => Some(v4),
        SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped().map(|ip| SocketAddrV4::new(ip, v6.port())),
    };
    let (peer, local) = (canon(peer)?, canon(local)?);
    match diag::owner(peer, local) {
        Ok(uid) => uid,
        Err(e) => {
            tracing::debug!(error = %e, "no socket lookup over netlink; reading /proc/net/tcp");
            owner_in(&socket_table()?, peer, local)
        }
    }
}

/// The kernel's socket lookup over netlink (`NETLINK_SOCK_DIAG`, as `ss` uses it): one
/// request naming the socket by its four addresses, one answer.
mod diag {
    use std::io::{Error, ErrorKind};
    use std::net::SocketAddrV4;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLMSG_ERROR: u16 = 2;

    /// `struct inet_diag_sockid`: ports and addresses in network order.
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct SockId {
        sport: [u8; 2],
        dport: [u8; 2],
        src: [u8; 16],
        dst: [u8; 16],
        interface: u32,
        cookie: [u32; 2],
    }

    /// `struct nlmsghdr` and `struct inet_diag_req_v2`.
    #[repr(C)]
    struct Request {
        len: u32,
        kind: u16,
        flags: u16,
        seq: u32,
        pid: u32,
        family: u8,
        protocol: u8,
        ext: u8,
        pad: u8,
        states: u32,
        id: SockId,
    }

    /// The owner of the socket whose own address is `from` and whose peer is `to`
    /// (`Ok(None)`: no such socket).
    pub fn owner(from: SocketAddrV4, to: SocketAddrV4) -> std::io::Result<Option<u32>> {
        let address = |a: SocketAddrV4| {
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&a.ip().octets());
            bytes
        };
        let request = Request {
            len: std::mem::size_of::<Request>() as u32,
            kind: SOCK_DIAG_BY_FAMILY,
            flags: libc::NLM_F_REQUEST as u16,
            seq: 1,
            pid: 0,
            family: libc::AF_INET as u8,
            protocol: libc::IPPROTO_TCP as u8,
            ext: 0,
            pad: 0,
            states: u32::MAX,
            id: SockId {
                sport: from.port().to_be_bytes(),
                dport: to.port().to_be_bytes(),
                src: address(from),
                dst: address(to),
                interface: 0,
                // INET_DIAG_NOCOOKIE: found by its addresses.
                cookie: [u32::MAX; 2],
            },
        };
        // SAFETY: socket(2) with constant arguments; the descriptor is owned at once.
        let socket = unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            );
            if fd < 0 {
                return Err(Error::last_os_error());
            }
            OwnedFd::from_raw_fd(fd)
        };
        // SAFETY: `request` is a plain #[repr(C)] value of the size given.
        let sent = unsafe {
            libc::send(socket.as_raw_fd(), (&raw const request).cast(), std::mem::size_of::<Request>(), 0)
        };
        if sent < 0 {
            return Err(Error::last_os_error());
        }
        let mut answer = [0u8; 1024];
        // SAFETY: receives into a buffer of the length given.
        let got = unsafe { libc::recv(socket.as_raw_fd(), answer.as_mut_ptr().cast(), answer.len(), 0) };
        if got < 0 {
            return Err(Error::last_os_error());
        }
        parse(&answer[..got as usize], [request.id.sport, request.id.dport])
    }

    /// The answer: an `inet_diag_msg` after the header, for the socket of `ports` (source
    /// and destination, as asked), or an error (ENOENT: no such socket).
    fn parse(answer: &[u8], ports: [[u8; 2]; 2]) -> std::io::Result<Option<u32>> {
        let field = |at: usize| -> std::io::Result<u32> {
            answer
                .get(at..at + 4)
                .map(|b| u32::from_ne_bytes(b.try_into().expect("four bytes")))
                .ok_or_else(|| Error::new(ErrorKind::InvalidData, "a short sock_diag answer"))
        };
        const HEADER: usize = 16;
        let kind =
            u16::from_ne_bytes(answer.get(4..6).ok_or(ErrorKind::InvalidData)?.try_into().expect("two"));
        match kind {
            NLMSG_ERROR => match field(HEADER)? as i32 {
                0 => Ok(None),
                e if -e == libc::ENOENT => Ok(None),
                e => Err(Error::from_raw_os_error(-e)),
            },
            SOCK_DIAG_BY_FAMILY => {
                // family, state, timer, retrans (4), the socket id (48: the ports first),
                // expires, rqueue, wqueue (12), then uid.
                if answer.get(HEADER + 4..HEADER + 8) != Some(&[ports[0], ports[1]].concat()[..]) {
                    return Err(Error::new(ErrorKind::InvalidData, "a sock_diag answer for another socket"));
                }
                field(HEADER + 4 + 48 + 12).map(Some)
            }
            other => Err(Error::new(ErrorKind::InvalidData, format!("a sock_diag answer of type {other}"))),
        }
    }
}

/// Whether `uid` may print to this client's printer: this process's user, root, or
/// CUPS' (`lp`, whose `ipp` backend sends the spooler's jobs).
pub fn may_print(uid: u32) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    uid == me || uid == 0 || crate::monitor::uid_of("lp") == Some(uid)
}

/// Whether a job sent over a connection of `uid`, naming `requesting_user` as its sender,
/// is the job of this client's user (`me`: uid and name): sent by that user's own
/// program, or by the spooler (root, `lp`) for a job CUPS took from that user. CUPS names
/// the job's owner, as it authenticated them, in `requesting-user-name`; another user's
/// job reaching this printer (a queue not routed to its sender's client, or a port a
/// stopped client left to this one) is not this user's to pay.
pub fn job_is_mine(uid: u32, requesting_user: &str, me: (u32, &str)) -> bool {
    uid == me.0 || requesting_user == me.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_read_from_the_kernels_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:21B8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 523 1\n\
           1: 0100007F:C350 0100007F:21B8 01 00000000:00000000 00:00000000 00000000 65534        0 524 1\n\
           2: 0100007F:21B8 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 525 1\n";
        let port = 0x21B8;
        let peer = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0xC350);
        let local = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        assert_eq!(owner_in(table, peer, local), Some(65534), "the connecting socket's, not ours");
        assert_eq!(owner_in(table, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1), local), None);
        assert_eq!(listener_in(table, port), Some(1000), "the listening socket, not a connection");
        assert_eq!(listener_in(table, 0xC350), None, "a connecting socket listens to nothing");
    }

    #[test]
    fn a_spooled_job_is_mine_only_when_cups_names_me() {
        let me = (1000, "anna");
        assert!(job_is_mine(1000, "whoever", me), "my own program says what it likes");
        assert!(job_is_mine(0, "anna", me));
        assert!(job_is_mine(7, "anna", me));
        assert!(!job_is_mine(0, "bert", me), "bert's job through CUPS is not anna's");
        assert!(!job_is_mine(7, "anonymous", me));
    }

    #[test]
    fn a_real_connection_is_this_users() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(local).unwrap();
        let (_conn, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let me = unsafe { libc::geteuid() };
        assert_eq!(owner(peer, local), Some(me));
        // Asked of the kernel by the connection's addresses, and not found when none is.
        let (SocketAddr::V4(peer4), SocketAddr::V4(local4)) = (peer, local) else { panic!("IPv4") };
        assert_eq!(diag::owner(peer4, local4).unwrap(), Some(me));
        let nobody = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1);
        assert_eq!(diag::owner(nobody, local4).unwrap(), None);
        assert_eq!(super::listener(local.port()), Some(me));
        assert!(may_print(me));
        assert!(!may_print(me.wrapping_add(4242)) || me.wrapping_add(4242) == 0);
    }
}
