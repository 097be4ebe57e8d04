//! Hunt definitions and their stock ledger (`/v1/hunts...`).

use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::ToSchema;

fn one() -> u32 {
    1
}

/// `null` reads as the field's default, as an absent field does.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn nullable_limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(Option::<u32>::deserialize(d)?.unwrap_or(1))
}

/// A hunt definition as a designer posts it (`POST /v1/hunts`). Unknown
/// fields are ignored; absent fields take the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HuntDefinition<'a> {
    /// The hunt's id.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub id: Cow<'a, str>,
    /// Display name (default: the id).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, max_length = 256)]
    pub name: Option<Cow<'a, str>>,
    /// Opening time (absent or `null`: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<Time>,
    /// Closing time (absent or `null`: no limit); after `opens_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_at: Option<Time>,
    /// The clues (at most 4 096, unique ids).
    #[serde(borrow, default, deserialize_with = "nullable")]
    #[schema(max_items = 4096, nullable)]
    pub clues: Vec<ClueDefinition<'a>>,
    /// The products (at most 1 024, unique skus).
    #[serde(borrow, default, deserialize_with = "nullable")]
    #[schema(max_items = 1024, nullable)]
    pub products: Vec<ProductDefinition<'a>>,
}

/// A clue of a [`HuntDefinition`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClueDefinition<'a> {
    /// The clue's id.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub id: Cow<'a, str>,
    /// Points scored by finding it (absent or `null`: 0).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(nullable)]
    pub points: u32,
}

/// A product of a [`HuntDefinition`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductDefinition<'a> {
    /// The product's sku.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub sku: Cow<'a, str>,
    /// Initial stock (default 0, at most 2^48).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(maximum = 281474976710656_u64, nullable)]
    pub stock: u64,
    /// Grants one player may hold (default 1, at least 1).
    #[serde(default = "one", deserialize_with = "nullable_limit")]
    #[schema(minimum = 1, nullable)]
    pub per_player_limit: u32,
    /// Score needed to claim it (default 0).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(nullable)]
    pub min_score: u64,
}

/// Answer to a hunt definition: `201` when created, `200` for an identical re-post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DefineHuntReply<'a> {
    /// Always `true`.
    pub ok: bool,
    /// The hunt's id.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    /// False for an identical re-post.
    pub created: bool,
    /// Journal sequence of the definition.
    pub seq: u64,
}

/// `GET /v1/hunts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HuntList {
    /// Always `true`.
    pub ok: bool,
    /// Every hunt id.
    pub hunts: Vec<String>,
}

/// A clue as answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClueReply<'a> {
    /// The clue's id.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    /// Its points.
    pub points: u32,
}

/// A product with its durable stock ledger: `stock + added = remaining + granted`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductLedger<'a> {
    /// The sku.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub sku: Cow<'a, str>,
    /// Initial stock.
    pub stock: u64,
    /// Grants one player may hold.
    pub per_player_limit: u32,
    /// Score needed to claim it.
    pub min_score: u64,
    /// Units left.
    pub remaining: u64,
    /// Units granted.
    pub granted: u64,
    /// Stock added since the definition.
    pub added: u64,
}

/// `GET /v1/hunts/{hunt}`: the definition (times as unix ms) with its ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HuntReply<'a> {
    /// Always `true`.
    pub ok: bool,
    /// The hunt's id.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub id: Cow<'a, str>,
    /// Display name.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub name: Cow<'a, str>,
    /// Opening time, or `null` for no limit.
    pub opens_at: Option<i64>,
    /// Closing time, or `null` for no limit.
    pub closes_at: Option<i64>,
    /// The clues.
    #[serde(borrow)]
    pub clues: Vec<ClueReply<'a>>,
    /// The products with their ledgers.
    #[serde(borrow)]
    pub products: Vec<ProductLedger<'a>>,
    /// Journal sequence of the definition.
    pub defined_seq: u64,
}

/// Body of `POST /v1/hunts/{hunt}/products/{sku}/stock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockRequest {
    /// Units to add (at least 1).
    #[schema(minimum = 1)]
    pub add: u64,
}

/// Answer to a stock addition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockReply<'a> {
    /// Always `true`.
    pub ok: bool,
    /// The hunt.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub hunt: Cow<'a, str>,
    /// The product.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub sku: Cow<'a, str>,
    /// Units added.
    pub added: u64,
    /// Units left after the addition.
    pub remaining: u64,
    /// Journal sequence of the addition.
    pub seq: u64,
}
