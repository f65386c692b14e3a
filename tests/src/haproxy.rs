//! HAProxy (Debian's) in front of several server instances, as a site runs them: HTTP
//! with `X-Forwarded-For`, round robin, each instance checked on `/api/v1/health`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Haproxy {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// Balances over the instances at these `http://host:port` URLs.
    pub fn start(instances: &[&str]) -> Haproxy {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::free_port();
        let mut servers = String::new();
        for (n, url) in instances.iter().enumerate() {
            let addr = url.strip_prefix("http://").expect("plain HTTP instances");
            servers += &format!("  server i{n} {addr} check inter 1s\n");
        }
        let config = format!(
            // No maxconn: HAProxy sizes it from the file descriptors it may open.
            "defaults\n  mode http\n  option forwardfor\n  timeout connect 5s\n  timeout client 1h\n  \
             timeout server 1h\n  timeout tunnel 1h\n\
             frontend ream\n  bind 127.0.0.1:{port}\n  default_backend instances\n\
             backend instances\n  balance roundrobin\n  option httpchk GET /api/v1/health\n  \
             http-check expect status 200\n{servers}"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let log = dir.path().join("haproxy.log");
        let mut child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("haproxy (Debian's haproxy package; scripts/test installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let said = || std::fs::read_to_string(&log).unwrap_or_default();
            if let Ok(Some(status)) = child.try_wait() {
                panic!("haproxy ended ({status}): {}", said());
            }
            assert!(Instant::now() < deadline, "haproxy did not listen on {port}: {}", said());
            std::thread::sleep(Duration::from_millis(20));
        }
        Haproxy { url, child, _dir: dir }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
