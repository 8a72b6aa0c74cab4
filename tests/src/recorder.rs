//! A small HTTP server on loopback that records every request it receives and answers
//! with a fixed status: the double for callers' callback endpoints. Reads both
//! Content-Length and chunked bodies (components send chunked).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Recorder {
    pub url: String,
    received: Arc<Mutex<Vec<Recorded>>>,
    answer: Arc<Mutex<Answer>>,
    responder: Arc<Mutex<Option<Responder>>>,
}

/// Builds the answer (status, JSON body) from the request, for doubles whose answer
/// depends on what was sent (a bulk send answers per number).
pub type Responder = Arc<dyn Fn(&Recorded) -> (u16, String) + Send + Sync>;

/// What the recorder answers every request with.
#[derive(Clone)]
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

impl Recorder {
    pub fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(Answer {
            status: 200,
            content_type: "application/json".into(),
            body: b"{}".to_vec(),
        }));
        let responder: Arc<Mutex<Option<Responder>>> = Arc::new(Mutex::new(None));
        let (r, s, f) = (received.clone(), answer.clone(), responder.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (r, s, f) = (r.clone(), s.clone(), f.clone());
                std::thread::spawn(move || {
                    if let Some(request) = read_request(&mut stream) {
                        let dynamic = f.lock().unwrap().clone();
                        let a = match dynamic {
                            Some(respond) => {
                                let (status, body) = respond(&request);
                                Answer {
                                    status,
                                    content_type: "application/json".into(),
                                    body: body.into_bytes(),
                                }
                            }
                            None => s.lock().unwrap().clone(),
                        };
                        r.lock().unwrap().push(request);
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {} X\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            a.status,
                            a.content_type,
                            a.body.len()
                        );
                        let _ = stream.write_all(&a.body);
                    }
                });
            }
        });
        Recorder {
            url,
            received,
            answer,
            responder,
        }
    }

    /// Answers each request with what `respond` makes of it.
    pub fn answer_by(&self, respond: impl Fn(&Recorded) -> (u16, String) + Send + Sync + 'static) {
        *self.responder.lock().unwrap() = Some(Arc::new(respond));
    }

    /// Every status answered from now on.
    pub fn answer_with(&self, status: u16) {
        self.answer.lock().unwrap().status = status;
    }

    /// Answers with this status and JSON body (to play a provider's API).
    pub fn answer_json(&self, status: u16, body: &str) {
        *self.answer.lock().unwrap() = Answer {
            status,
            content_type: "application/json".into(),
            body: body.as_bytes().to_vec(),
        };
    }

    pub fn received(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }
}
