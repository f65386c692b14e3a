//! An S3-compatible object store on loopback, for the tests of several server instances:
//! `s3s-fs`, the `s3s` project's store over a folder. It checks every request's AWS
//! Signature V4 against its one access key, speaks multipart uploads as S3 does, and
//! keeps each object as a plain file, so a test can look at exactly what was stored. It
//! runs in the test's process on a thread of its own and starts in milliseconds; the
//! servers under test reach it over TCP as they would any S3 endpoint. A test can take
//! it down (`outage`): it then answers every request 503 ServiceUnavailable, as a store
//! does when it is overloaded or its disks are away, until it is brought back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

pub const ACCESS_KEY: &str = "ream-tests";

pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    /// The secret key, given to the servers in their environment as an operator would.
    pub secret_key: String,
    root: tempfile::TempDir,
    outage: Arc<Outage>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3Server {
    /// A store with one empty bucket.
    pub fn start(bucket: &str) -> S3Server {
        let root = tempfile::tempdir().unwrap();
        // s3s-fs keeps a bucket as a folder of its root.
        std::fs::create_dir(root.path().join(bucket)).unwrap();
        let secret_key = uuid::Uuid::new_v4().simple().to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, secret_key.as_str()));
        let outage = Arc::new(Outage::default());
        let service = Unreliable { inner: builder.build(), outage: outage.clone() };
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let socket = tokio::select! {
                        got = listener.accept() => match got {
                            Ok((socket, _)) => socket,
                            Err(_) => continue,
                        },
                        _ = &mut stopped => return,
                    };
                    let connection =
                        http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
            });
        });
        S3Server {
            endpoint,
            bucket: bucket.to_owned(),
            secret_key,
            root,
            outage,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Takes the store down (every request answered 503) or brings it back.
    pub fn outage(&self, down: bool) {
        self.outage.down.store(down, Ordering::SeqCst);
    }

    /// How many requests were answered 503 since the store was made.
    pub fn refused(&self) -> usize {
        self.outage.refused.load(Ordering::SeqCst)
    }

    /// A server's `[cluster.s3]` section for this store.
    pub fn config(&self) -> String {
        format!("[cluster.s3]\nbucket = \"{}\"\nendpoint = \"{}\"\n", self.bucket, self.endpoint)
    }

    /// The environment a server reaches the store with.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()), ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone())]
    }

    /// Every object in the bucket, with its bytes.
    pub fn objects(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push((path.clone(), std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.path().join(&self.bucket), &mut out);
        out
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Default)]
struct Outage {
    down: AtomicBool,
    refused: AtomicUsize,
}

/// The store, or its outage.
#[derive(Clone)]
struct Unreliable {
    inner: s3s::service::S3Service,
    outage: Arc<Outage>,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Unreliable {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = futures_util::future::BoxFuture<'static, Result<s3s::HttpResponse, s3s::HttpError>>;

    fn call(&self, req: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        if !self.outage.down.load(Ordering::SeqCst) {
            return hyper::service::Service::call(&self.inner, req);
        }
        self.outage.refused.fetch_add(1, Ordering::SeqCst);
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>ServiceUnavailable</Code>\
                    <Message>Please reduce your request rate.</Message></Error>";
        let answer = hyper::Response::builder()
            .status(503)
            .header("content-type", "application/xml")
            .body(s3s::Body::from(body.to_string()))
            .expect("a response");
        Box::pin(async move { Ok(answer) })
    }
}
