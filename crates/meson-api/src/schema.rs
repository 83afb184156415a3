//! Schemas of the ledger's own types that appear in answers, built from the types themselves where they
//! can be (every [`AccountKind`] and [`TransferCode`] name comes from its serde name), and [`Hash32`].

use std::fmt;

use meson_ledger::{AccountKind, Outcome, TransferCode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// A string schema listing the serde names of `all`.
fn names<T: Serialize>(all: &[T], description: &str) -> Object {
    let values: Vec<serde_json::Value> = all
        .iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

pub(crate) fn account_kind() -> Object {
    names(&AccountKind::ALL, "What the account is for")
}

pub(crate) fn transfer_code() -> Object {
    names(&TransferCode::ALL, "Why the money moved")
}

pub(crate) fn outcome() -> Object {
    let all = [Outcome::Created, Outcome::Exists];
    // Fails to compile when the ledger gains an outcome, so the list above is never short.
    for o in all {
        match o {
            Outcome::Created | Outcome::Exists => {}
        }
    }
    names(
        &all,
        "created: applied now; exists: the same request applied before, nothing changed",
    )
}

fn integer(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .description(Some(description))
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

/// `meson_ledger::PendingStatus`, tagged by `status`, or null for a transfer that is not pending.
pub(crate) fn pending_status_or_null() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(
            "Where a pending transfer stands: pending (until expires_at, null: never), posted or \
             voided by the transfer `by`, or expired",
        ))
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["pending", "posted", "voided", "expired"])),
        )
        .required("status")
        .property(
            "expires_at",
            integer("Ledger time from which it can no longer be posted or voided")
                .schema_type(SchemaType::from_iter([Type::Integer, Type::Null])),
        )
        .property("by", string("The transfer that posted or voided it"))
        .build()
}

/// `meson_ledger::Transfer`, as submitted.
pub(crate) fn transfer() -> Object {
    ObjectBuilder::new()
        .description(Some(
            "The transfer exactly as it was submitted to the ledger (ids and amounts in base units as \
             decimal strings, its code, flags and pending fields)",
        ))
        .property("id", string("The transfer's id"))
        .required("id")
        .property("code", transfer_code())
        .required("code")
        .build()
}

/// `meson_ledger::audit::SignedHead`.
pub(crate) fn signed_head() -> Object {
    let head = ObjectBuilder::new()
        .description(Some("The ledger's state after its latest audit log entry"))
        .property("network", string("The ledger's network name"))
        .required("network")
        .property("seq", integer("The latest audit log entry"))
        .required("seq")
        .property("hash", string("That entry's hash, hex"))
        .required("hash")
        .property("state_digest", string("BLAKE3 of the ledger's state, hex"))
        .required("state_digest")
        .property("issued", string("Base units minted so far"))
        .required("issued")
        .property("burned", string("Base units burned so far"))
        .required("burned")
        .property(
            "ledger_time",
            integer("The latest batch's time, Unix seconds"),
        )
        .required("ledger_time");
    ObjectBuilder::new()
        .description(Some(
            "The ledger's head, signed by the router: replaying the audit log up to `head.seq` must \
             give exactly this state",
        ))
        .property("head", head)
        .required("head")
        .property("signer", <meson_core::identity::NodeId as PartialSchema>::schema())
        .required("signer")
        .property("signature", string("The router's signature over the head"))
        .required("signature")
        .build()
}

/// A 32-byte hash, sent as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash32(pub [u8; 32]);

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({self})")
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|_| serde::de::Error::custom("a hash is 64 hex digits"))?;
        Ok(Hash32(bytes))
    }
}

impl PartialSchema for Hash32 {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9a-f]{64}$"))
            .description(Some("32 bytes as 64 lowercase hex digits"))
            .into()
    }
}

impl ToSchema for Hash32 {}

/// A signed envelope, whatever its body: the body travels as text, so one schema fits all.
pub(crate) fn signed() -> RefOr<Schema> {
    <meson_core::signed::SignedMessage<()> as PartialSchema>::schema()
}
