//! A release's documents, fetched from their contributions' URIs and checked against the chain: each
//! document's keccak256 against its `contentHash`, and the Merkle root of the set against the release's.

use alloy::primitives::B256;

use super::Chain;
use crate::{
    attribution::{Document, DocumentFetcher, release_root},
    error::{ClientError, Result},
};

/// A release whose documents were fetched and verified.
#[derive(Debug, Clone)]
pub struct VerifiedRelease {
    /// The release id.
    pub release_id: u64,
    /// Its Merkle root (as published and as recomputed).
    pub root: B256,
    /// Its documents in release order.
    pub documents: Vec<Document>,
}

impl Chain {
    /// Reads release `release_id`, fetches every member's document from the URI in its
    /// `ContributionSubmitted` event, verifies each content hash and the release root.
    pub async fn fetch_release(
        &self,
        release_id: u64,
        fetcher: &DocumentFetcher,
    ) -> Result<VerifiedRelease> {
        let (release, members) = self.release_members(release_id).await?;
        let ids: Vec<u64> = members.iter().map(|m| m.contribution_id).collect();
        let uris = self.contribution_uris(&ids).await?;
        let leaves: Vec<(u64, B256)> = members
            .iter()
            .map(|m| (m.contribution_id, m.content_hash))
            .collect();
        let computed = release_root(&leaves);
        if computed != release.root {
            return Err(ClientError::ReleaseRootMismatch {
                release: release_id,
                computed,
                published: release.root,
            });
        }
        let mut documents = Vec::with_capacity(members.len());
        for member in &members {
            let uri = &uris[&member.contribution_id];
            let bytes = fetcher.fetch_verified(uri, member.content_hash).await?;
            documents.push(Document {
                contribution_id: member.contribution_id,
                bytes,
            });
        }
        Ok(VerifiedRelease {
            release_id,
            root: release.root,
            documents,
        })
    }
}
