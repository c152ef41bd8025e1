//! Search: full-text product search with facets and autocomplete.
//!
//! Each instance keeps its own Tantivy index of the active catalog (in `{data_dir}/search`, or
//! in memory), fed by the outbox relay ([`SearchIndexer`]) and rebuilt from the catalog by
//! `pasar search reindex`, by `POST /v1/admin/search/reindex`, and on start when it is empty.
//! The index is a copy: the catalog and the inventory stay the truth.

pub mod domain;
pub mod routes;
mod service;
mod store;

pub use domain::SearchSort;
pub use service::{
    FacetValue, Facets, Search, SearchError, SearchHit, SearchIndexer, SearchRequest, SearchResults,
    Suggestion,
};
