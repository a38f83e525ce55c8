//! Multipart message bodies, as Discord accepts them: a `payload_json` part
//! (the JSON body, validated like any other) and `files[n]` parts whose `n`
//! is the `id` of an entry in the payload's `attachments`.
//!
//! The fake checks what Discord checks (every listed attachment has its file
//! and every file is listed) and what the product promises (a `.png` decodes
//! as PNG; an embed's `attachment://name` names a file of the same message).

use serde_json::Value;

/// One part of a multipart/form-data body.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The form field: `payload_json`, `files[0]`...
    pub field: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type, if it is one.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits a multipart body into its parts (RFC 7578).
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Upload>, String> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0).ok_or("no opening boundary")? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err("a boundary is not followed by CRLF".into());
        }
        at += 2;
        let headers_end = find(body, b"\r\n\r\n", at).ok_or("a part has no end of headers")?;
        let headers = String::from_utf8_lossy(&body[at..headers_end]).into_owned();
        let data_start = headers_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let data_end = find(body, &closing, data_start).ok_or("a part is not closed by a boundary")?;
        let mut upload = Upload {
            field: String::new(),
            filename: None,
            content_type: None,
            data: body[data_start..data_end].to_vec(),
        };
        for line in headers.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("content-disposition") {
                for param in value.split(';').map(str::trim) {
                    if let Some(v) = param.strip_prefix("name=") {
                        upload.field = v.trim_matches('"').to_string();
                    } else if let Some(v) = param.strip_prefix("filename=") {
                        upload.filename = Some(v.trim_matches('"').to_string());
                    }
                }
            } else if name.trim().eq_ignore_ascii_case("content-type") {
                upload.content_type = Some(value.trim().to_string());
            }
        }
        if upload.field.is_empty() {
            return Err("a part has no form field name".into());
        }
        parts.push(upload);
        at = data_end + closing.len();
    }
}

/// Problems with the files of a message body: attachments without their
/// file, files not listed, PNGs that do not decode, `attachment://` URLs
/// naming no file of the message. `existing`: filenames the message already has.
pub fn problems(body: &Value, files: &[Upload], existing: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let listed: Vec<&Value> = body["attachments"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut names: Vec<String> = existing.to_vec();
    for f in files {
        let Some(index) = f.field.strip_prefix("files[").and_then(|r| r.strip_suffix(']')) else {
            out.push(format!("unexpected form field {:?}", f.field));
            continue;
        };
        let entry = listed.iter().find(|a| {
            a["id"].as_u64().map(|i| i.to_string()).as_deref() == Some(index) || a["id"].as_str() == Some(index)
        });
        let Some(entry) = entry else {
            out.push(format!("file {:?} has no `attachments` entry with id {index}", f.field));
            continue;
        };
        let name = entry["filename"]
            .as_str()
            .map(str::to_string)
            .or_else(|| f.filename.clone())
            .unwrap_or_default();
        if name.ends_with(".png") {
            if let Err(e) = png::Decoder::new(std::io::Cursor::new(&f.data)).read_info() {
                out.push(format!("{name}: not a PNG ({e})"));
            }
        }
        names.push(name);
    }
    for a in &listed {
        let id = a["id"]
            .as_u64()
            .map(|i| i.to_string())
            .or_else(|| a["id"].as_str().map(str::to_string));
        let is_new = id
            .as_deref()
            .is_some_and(|id| files.iter().any(|f| f.field == format!("files[{id}]")));
        let names_existing = a["filename"].as_str().is_some_and(|n| existing.iter().any(|e| e == n));
        if !is_new && !names_existing && a["id"].as_str().is_none_or(|s| s.len() < 5) {
            out.push(format!("attachment {a} has no file in the request"));
        }
    }
    if let Some(embeds) = body["embeds"].as_array() {
        for e in embeds {
            for key in ["image", "thumbnail"] {
                if let Some(name) = e[key]["url"].as_str().and_then(|u| u.strip_prefix("attachment://")) {
                    if !names.iter().any(|n| n == name) {
                        out.push(format!("embed {key} attachment://{name} names no file of the message"));
                    }
                }
            }
        }
    }
    out
}
