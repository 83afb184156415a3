//! Roots a terminal signed for a strongly versioned object that are not the object's: a piece it reports
//! holding ([`Evidence::RootMismatch`]) or the whole object it serves ([`Evidence::ServedRootMismatch`]).
//! Both are judged alike against the router's statement of the version they name.

use super::*;
use crate::served::SERVED;
use crate::wire::HeldPiece;

/// What a terminal signed of one version of an object.
struct Claim<'a> {
    /// The site, when the claim names one (a held piece names only the object).
    site: Option<u64>,
    object: &'a str,
    version: Option<&'a String>,
    root: Root,
    len: u64,
    /// The slice roots a whole-object claim names besides its root; none for a held piece.
    slices: &'a [Root],
}

impl Claim<'_> {
    /// The router's statement, checked, when it contradicts the claim: it names the same object and the
    /// same strong version, and `agrees` (the one comparison that differs by kind of claim) finds the
    /// claimed roots are not its.
    fn contradicted(
        &self,
        known: &SignedMessage<KnownObject>,
        router: &NodeId,
        agrees: impl FnOnce(&ObjectRoots) -> bool,
    ) -> Result<KnownObject, EvidenceError> {
        let (k, roots) = statement(known, router)?;
        if self.site.is_some_and(|s| s != k.site) || !self.object.eq_ignore_ascii_case(&k.object) {
            return Err(EvidenceError::OtherObject);
        }
        same_strong_version(self.version, &k.version)?;
        if agrees(&roots) {
            return Err(EvidenceError::RootMatches);
        }
        Ok(k)
    }

    /// The offence: the terminal, and the object, version, roots and length it named. Other signed
    /// messages of the same claim (every heartbeat may report the piece again, every restart re-signs what
    /// is served) prove the same offence.
    fn offence(&self, kind: Kind, terminal: &NodeId) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(kind.as_str().as_bytes());
        h.update(terminal.as_bytes());
        for field in [
            self.object.to_ascii_lowercase().as_bytes(),
            self.version
                .map(String::as_str)
                .unwrap_or_default()
                .as_bytes(),
        ] {
            h.update(&(field.len() as u64).to_le_bytes());
            h.update(field);
        }
        h.update(self.root.as_bytes());
        h.update(&self.len.to_le_bytes());
        for slice in self.slices {
            h.update(slice.as_bytes());
        }
        *h.finalize().as_bytes()
    }
}

pub(super) fn root_mismatch(
    heartbeat: &SignedMessage<Heartbeat>,
    piece: usize,
    known: &SignedMessage<KnownObject>,
    router: &NodeId,
) -> Result<Finding, EvidenceError> {
    let h = by_terminal(heartbeat, wire::HEARTBEAT, "heartbeat")?;
    let p: &HeldPiece = h
        .body
        .added
        .get(piece)
        .ok_or(EvidenceError::NoSuchPiece(piece))?;
    let claim = Claim {
        site: None,
        object: &p.object,
        version: p.version.as_ref(),
        root: p.root,
        len: p.len,
        slices: &[],
    };
    let k = claim.contradicted(known, router, |roots| {
        roots.piece_len(&p.root) == Some(p.len)
    })?;
    Ok(Finding {
        terminal: h.signer,
        kind: Kind::RootMismatch,
        proves: format!(
            "terminal {} reported holding a piece {} ({} bytes) of version {} of object {}, which is none of its pieces (root {})",
            h.signer, p.root, p.len, k.version, k.object, k.root
        ),
        first_at: h.ts,
        last_at: h.ts,
        offence: Some(claim.offence(Kind::RootMismatch, &h.signer)),
    })
}

pub(super) fn served_root_mismatch(
    served: &SignedMessage<Served>,
    known: &SignedMessage<KnownObject>,
    router: &NodeId,
) -> Result<Finding, EvidenceError> {
    let v = by_terminal(served, SERVED, "served claim")?;
    let s = &v.body;
    let claim = Claim {
        site: Some(s.site),
        object: &s.object,
        version: s.version.as_ref(),
        root: s.root,
        len: s.size,
        slices: &s.slice_roots,
    };
    // Slice roots are compared only when both name them: a claim or a statement may leave them out.
    let k = claim.contradicted(known, router, |roots| {
        roots.root == s.root
            && roots.size == s.size
            && (roots.slices.is_empty()
                || s.slice_roots.is_empty()
                || roots.slices == s.slice_roots)
    })?;
    Ok(Finding {
        terminal: v.signer,
        kind: Kind::ServedRootMismatch,
        proves: format!(
            "terminal {} signed that it serves version {} of object {} as {} bytes with root {} ({} slice roots), which is not the object: {} bytes with root {} ({} slice roots)",
            v.signer, k.version, k.object, s.size, s.root, s.slice_roots.len(), k.size, k.root, k.slice_roots.len()
        ),
        first_at: v.ts,
        last_at: v.ts,
        offence: Some(claim.offence(Kind::ServedRootMismatch, &v.signer)),
    })
}
