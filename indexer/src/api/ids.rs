//! Identifiers as clients write them: node ids (`kind:key`), addresses and 32-byte digests, checked and
//! normalised to the store's form (`0x` + lowercase hex).

use std::fmt;

use crate::api::error::ApiError;

/// The kinds of node in the attribution graph.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[graphql(rename_items = "lowercase")]
pub(crate) enum NodeKind {
    /// An account: contributor, curator, payer, node or owner.
    Account,
    /// A datanet (community dataset).
    Datanet,
    /// A datanet release.
    Release,
    /// A registered model.
    Model,
    /// A contribution to a datanet.
    Contribution,
    /// An inference, i.e. a settled usage receipt.
    Inference,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Datanet => "datanet",
            Self::Release => "release",
            Self::Model => "model",
            Self::Contribution => "contribution",
            Self::Inference => "inference",
        }
    }
}

/// A node of the attribution graph: its kind and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum NodeId {
    /// An account by address.
    Account(String),
    /// A datanet by id.
    Datanet(i64),
    /// A release by id.
    Release(i64),
    /// A model by id.
    Model(i64),
    /// A contribution by id.
    Contribution(i64),
    /// An inference by receipt digest.
    Inference(String),
}

impl NodeId {
    /// Parses `kind:key`; a bare address or digest is accepted too.
    pub(crate) fn parse(id: &str) -> Result<Self, ApiError> {
        let invalid = || ApiError::InvalidId(id.to_owned());
        let Some((kind, key)) = id.split_once(':') else {
            return match id.len() {
                42 => Ok(Self::Account(address(id)?)),
                66 => Ok(Self::Inference(digest(id)?)),
                _ => Err(invalid()),
            };
        };
        let number = || {
            key.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(invalid)
        };
        Ok(match kind {
            "account" => Self::Account(address(key).map_err(|_| invalid())?),
            "inference" => Self::Inference(digest(key).map_err(|_| invalid())?),
            "datanet" => Self::Datanet(number()?),
            "release" => Self::Release(number()?),
            "model" => Self::Model(number()?),
            "contribution" => Self::Contribution(number()?),
            _ => return Err(invalid()),
        })
    }

    /// The node's kind.
    pub(crate) fn kind(&self) -> NodeKind {
        match self {
            Self::Account(_) => NodeKind::Account,
            Self::Datanet(_) => NodeKind::Datanet,
            Self::Release(_) => NodeKind::Release,
            Self::Model(_) => NodeKind::Model,
            Self::Contribution(_) => NodeKind::Contribution,
            Self::Inference(_) => NodeKind::Inference,
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind().name();
        match self {
            Self::Account(k) | Self::Inference(k) => write!(f, "{kind}:{k}"),
            Self::Datanet(n) | Self::Release(n) | Self::Model(n) | Self::Contribution(n) => {
                write!(f, "{kind}:{n}")
            }
        }
    }
}

fn hex_of_len(s: &str, digits: usize) -> Option<String> {
    let body = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    (body.len() == digits && body.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("0x{}", body.to_ascii_lowercase()))
}

/// An address as stored: `0x` + 40 lowercase hex digits.
pub(crate) fn address(s: &str) -> Result<String, ApiError> {
    hex_of_len(s, 40).ok_or_else(|| ApiError::InvalidAddress(s.to_owned()))
}

/// A 32-byte digest as stored: `0x` + 64 lowercase hex digits.
pub(crate) fn digest(s: &str) -> Result<String, ApiError> {
    hex_of_len(s, 64).ok_or_else(|| ApiError::InvalidDigest(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_bare_hex() {
        let addr = format!("0x{}", "Ab".repeat(20));
        let dig = format!("0x{}", "cD".repeat(32));
        assert_eq!(
            NodeId::parse(&addr).unwrap(),
            NodeId::Account(addr.to_lowercase())
        );
        assert_eq!(
            NodeId::parse(&format!("inference:{dig}")).unwrap(),
            NodeId::Inference(dig.to_lowercase())
        );
        assert_eq!(NodeId::parse("datanet:3").unwrap(), NodeId::Datanet(3));
        assert_eq!(NodeId::parse("model:2").unwrap().to_string(), "model:2");
        assert_eq!(
            NodeId::parse("contribution:9").unwrap().kind(),
            NodeKind::Contribution
        );
    }

    #[test]
    fn rejects_malformed_ids_naming_them() {
        for bad in [
            "datanet:0",
            "datanet:-1",
            "model:x",
            "planet:1",
            "account:0x12",
            "0x12",
            "",
        ] {
            let err = NodeId::parse(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(address("0xzz00000000000000000000000000000000000000").is_err());
        assert!(digest(&format!("0x{}", "0".repeat(63))).is_err());
    }
}
