//! Byte ranges from cache (RFC 9110 §14) and slice-wise filling of large objects.

mod support;

use support::*;

const MIB: usize = 1 << 20;

#[tokio::test]
async fn single_range_multipart_if_range_and_416() {
    let origin = Origin::start().await;
    let body = pattern(10_000, 1);
    origin.set(
        "/f",
        Resource::new(
            body.clone(),
            &[
                ("cache-control", "max-age=60"),
                ("etag", "\"f1\""),
                ("content-type", "text/plain"),
            ],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = terminal(config(&origin, dir.path())).await;
    get(t.addr, "/f").await;

    let r = request(t.addr, "GET", "/f", &[("range", "bytes=100-199")]).await;
    assert_eq!((r.status, r.x_cache()), (206, "HIT"));
    assert_eq!(r.header("content-range"), "bytes 100-199/10000");
    assert_eq!(&r.body[..], &body[100..200]);

    let r = request(t.addr, "GET", "/f", &[("range", "bytes=-10")]).await;
    assert_eq!(&r.body[..], &body[9990..]);

    let r = request(t.addr, "GET", "/f", &[("range", "bytes=0-9,5000-5009")]).await;
    assert_eq!(r.status, 206);
    let ctype = r.header("content-type").to_string();
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart type");
    assert_eq!(
        r.header("content-length").parse::<usize>().unwrap(),
        r.body.len()
    );
    let text = r.body.to_vec();
    let parts: Vec<&[u8]> = split(&text, format!("--{boundary}").as_bytes());
    // preamble (empty), two parts, and the closing "--\r\n"
    assert_eq!(parts.len(), 4, "{}", String::from_utf8_lossy(&text));
    for (part, range, bytes) in [
        (parts[1], "bytes 0-9/10000", &body[0..10]),
        (parts[2], "bytes 5000-5009/10000", &body[5000..5010]),
    ] {
        let head_end = find(part, b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&part[..head_end]).to_lowercase();
        assert!(head.contains(&format!("content-range: {range}")), "{head}");
        assert!(head.contains("content-type: text/plain"), "{head}");
        assert_eq!(&part[head_end + 4..head_end + 4 + bytes.len()], bytes);
    }

    let r = request(
        t.addr,
        "GET",
        "/f",
        &[("range", "bytes=0-9"), ("if-range", "\"f1\"")],
    )
    .await;
    assert_eq!((r.status, r.body.len()), (206, 10));
    let r = request(
        t.addr,
        "GET",
        "/f",
        &[("range", "bytes=0-9"), ("if-range", "\"old\"")],
    )
    .await;
    assert_eq!(
        (r.status, r.body.len()),
        (200, 10_000),
        "If-Range mismatch sends the whole body"
    );

    let r = request(t.addr, "GET", "/f", &[("range", "bytes=20000-")]).await;
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, "bytes */10000")
    );
    let r = request(t.addr, "GET", "/f", &[("range", "bytes=abc")]).await;
    assert_eq!(r.status, 200, "an invalid Range is ignored");
    assert_eq!(origin.hits("/f"), 1);
    t.shutdown().await;
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut hay: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(i) = find(hay, sep) {
        out.push(&hay[..i]);
        hay = &hay[i + sep.len()..];
    }
    out.push(hay);
    out
}

#[tokio::test]
async fn a_seek_into_a_large_object_fetches_one_slice() {
    let origin = Origin::start().await;
    let body = pattern(20 * MIB + 12345, 7);
    origin.set(
        "/video.mp4",
        Resource::new(
            body.clone(),
            &[("cache-control", "max-age=600"), ("etag", "\"vid\"")],
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&origin, dir.path());
    cfg.slice_size = MIB as u64;
    let t = terminal(cfg).await;

    // Seek into the middle: one slice is fetched, by a Range request for exactly that slice.
    let start = 10 * MIB + 500;
    let r = request(
        t.addr,
        "GET",
        "/video.mp4",
        &[("range", &format!("bytes={start}-{}", start + 999))],
    )
    .await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], &body[start..start + 1000]);
    assert_eq!(
        r.header("content-range"),
        format!("bytes {start}-{}/{}", start + 999, body.len())
    );
    let seen = origin.seen("/video.mp4");
    assert_eq!(seen.len(), 1, "one origin request for a seek");
    assert_eq!(
        seen[0].headers.get("range").unwrap(),
        &format!("bytes={}-{}", 10 * MIB, 11 * MIB - 1)
    );

    // The same range again is a hit; a range spanning two slices fetches only the missing one.
    let again = request(
        t.addr,
        "GET",
        "/video.mp4",
        &[("range", &format!("bytes={start}-{}", start + 999))],
    )
    .await;
    assert_eq!(again.x_cache(), "HIT");
    let span = request(
        t.addr,
        "GET",
        "/video.mp4",
        &[(
            "range",
            &format!("bytes={}-{}", 11 * MIB - 10, 11 * MIB + 9),
        )],
    )
    .await;
    assert_eq!(&span.body[..], &body[11 * MIB - 10..11 * MIB + 10]);
    assert_eq!(origin.hits("/video.mp4"), 2);

    // The whole object streams across all slices and hashes to the origin's bytes.
    let full = get(t.addr, "/video.mp4").await;
    assert_eq!(full.status, 200);
    assert_eq!(
        full.header("content-length").parse::<usize>().unwrap(),
        body.len()
    );
    assert_eq!(blake3::hash(&full.body), blake3::hash(&body));
    assert_eq!(
        origin.hits("/video.mp4"),
        21,
        "each of the 21 slices fetched exactly once"
    );
    let full = get(t.addr, "/video.mp4").await;
    assert_eq!(
        (full.x_cache(), blake3::hash(&full.body)),
        ("HIT", blake3::hash(&body))
    );
    t.shutdown().await;
}

#[tokio::test]
async fn an_origin_without_range_support_is_cached_whole() {
    let origin = Origin::start().await;
    let body = pattern(3 * MIB, 3);
    origin.set(
        "/whole",
        Resource::new(body.clone(), &[("cache-control", "max-age=600")]).no_ranges(),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&origin, dir.path());
    cfg.slice_size = MIB as u64;
    let t = terminal(cfg).await;
    let r = request(
        t.addr,
        "GET",
        "/whole",
        &[("range", "bytes=2097152-2097161")],
    )
    .await;
    assert_eq!((r.status, &r.body[..]), (206, &body[2 * MIB..2 * MIB + 10]));
    let r = get(t.addr, "/whole").await;
    assert_eq!(
        (r.x_cache(), blake3::hash(&r.body)),
        ("HIT", blake3::hash(&body))
    );
    assert_eq!(origin.hits("/whole"), 1);
    t.shutdown().await;
}

#[tokio::test]
async fn a_range_past_the_end_of_an_uncached_object() {
    let origin = Origin::start().await;
    origin.set(
        "/small",
        Resource::new(pattern(1000, 5), &[("cache-control", "max-age=600")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&origin, dir.path());
    cfg.slice_size = 64 * 1024;
    let t = terminal(cfg).await;
    let r = request(t.addr, "GET", "/small", &[("range", "bytes=5000000-")]).await;
    assert_eq!((r.status, r.header("content-range")), (416, "bytes */1000"));
    assert_eq!(get(t.addr, "/small").await.x_cache(), "HIT");
    t.shutdown().await;
}
