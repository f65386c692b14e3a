//! Who is on the other end of a loopback TCP connection: the OS user that owns the
//! connecting socket, read from the kernel's socket table (`/proc/net/tcp`, Linux). The
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
    owner_in(&socket_table()?, peer, local)
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
        assert_eq!(super::listener(local.port()), Some(me));
        assert!(may_print(me));
        assert!(!may_print(me.wrapping_add(4242)) || me.wrapping_add(4242) == 0);
    }
}
