//! The search index: a Tantivy index kept by this instance, in `{data_dir}/search` (or in
//! memory), holding one document per active product. Everything here is synchronous: the
//! service calls it on the blocking pool.
//!
//! Names and descriptions are indexed twice: as words (Indonesian and English; lower-cased,
//! no stemming, since Indonesian has no stemmer here and a wrong stem hurts more than it helps
//! in product names) and as CJK n-grams (Japanese has no spaces to cut at). Category, brand,
//! seller, price and stock are fast fields: filters and facet counts read them column-wise.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;

use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::fastfield::Column;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Score, SegmentReader,
};
use tantivy::{TantivyDocument, Term};
use tantivy_columnar::StrColumn;

use super::domain::{self, PRICE_EDGES, ParsedQuery, Piece, SearchSort};

/// Memory the index writer buffers before it writes a segment (Tantivy's floor is 15 MB).
const WRITER_BUDGET: usize = 32_000_000;

/// A product as the index holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedProduct {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub category: String,
    pub brand: Option<String>,
    pub seller: Option<String>,
    pub price: u64,
    pub currency: String,
    pub in_stock: bool,
    pub created_at: u64,
    /// The stars of its visible reviews added up, and how many there are.
    pub rating_sum: u64,
    pub rating_count: u64,
}

/// What a search asks of the index, already resolved (category ids, not slugs).
#[derive(Clone, Debug, Default)]
pub struct IndexQuery {
    pub text: ParsedQuery,
    /// Any of these categories (a category and those below it).
    pub categories: Option<Vec<String>>,
    pub brand: Option<String>,
    pub seller: Option<String>,
    pub price_min: Option<u64>,
    pub price_max: Option<u64>,
    pub in_stock: Option<bool>,
    /// At least this many stars on average (1 to 5).
    pub rating_min: Option<u64>,
    pub sort: SearchSort,
    pub offset: usize,
    pub limit: usize,
    /// Count the facets too (a suggestion does not need them).
    pub facets: bool,
}

/// A hit: the stored product and its score (none when sorted by something else).
#[derive(Clone, Debug)]
pub struct IndexHit {
    pub product: IndexedProduct,
    pub score: Option<f32>,
}

/// Facet counts of the matching products, by raw value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FacetCounts {
    pub category: HashMap<String, u64>,
    pub brand: HashMap<String, u64>,
    pub seller: HashMap<String, u64>,
    /// By [`domain::price_bucket`].
    pub price: Vec<u64>,
    /// `[out of stock, in stock]`.
    pub in_stock: [u64; 2],
    /// Rated products by the whole stars their average reaches (0 to 5).
    pub rating: [u64; 6],
}

pub struct IndexAnswer {
    pub hits: Vec<IndexHit>,
    pub total: usize,
    pub facets: FacetCounts,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    slug: Field,
    name: Field,
    name_cjk: Field,
    description: Field,
    description_cjk: Field,
    kind: Field,
    category: Field,
    brand: Field,
    seller: Field,
    price: Field,
    currency: Field,
    in_stock: Field,
    created_at: Field,
    rating: Field,
    rating_sum: Field,
    rating_count: Field,
}

const WORDS: &str = "pasar_words";
const CJK: &str = "pasar_cjk";

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        slug: builder.add_text_field("slug", STORED),
        name: builder.add_text_field("name", text(WORDS).set_stored()),
        name_cjk: builder.add_text_field("name_cjk", text(CJK)),
        description: builder.add_text_field("description", text(WORDS)),
        description_cjk: builder.add_text_field("description_cjk", text(CJK)),
        kind: builder.add_text_field("kind", STORED),
        category: builder.add_text_field("category", STRING | FAST | STORED),
        brand: builder.add_text_field("brand", STRING | FAST | STORED),
        seller: builder.add_text_field("seller", STRING | FAST | STORED),
        price: builder.add_u64_field("price", INDEXED | FAST | STORED),
        currency: builder.add_text_field("currency", STORED),
        in_stock: builder.add_u64_field("in_stock", INDEXED | FAST | STORED),
        created_at: builder.add_u64_field("created_at", FAST),
        rating: builder.add_u64_field("rating", INDEXED | FAST),
        rating_sum: builder.add_u64_field("rating_sum", STORED),
        rating_count: builder.add_u64_field("rating_count", STORED),
    };
    (builder.build(), fields)
}

/// Registers the tokenizers (they are not stored with the index) and opens the writer.
fn writer(index: &Index) -> tantivy::Result<IndexWriter> {
    index.tokenizers().register(WORDS, PieceTokenizer(domain::words));
    index.tokenizers().register(CJK, PieceTokenizer(domain::cjk_grams));
    index.writer_with_num_threads(1, WRITER_BUDGET)
}

/// A Tantivy tokenizer made of one of the domain's cutting rules.
#[derive(Clone)]
struct PieceTokenizer(fn(&str) -> Vec<Piece>);

struct PieceStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for PieceTokenizer {
    type TokenStream<'a> = PieceStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> PieceStream {
        let tokens = (self.0)(text)
            .into_iter()
            .enumerate()
            .map(|(position, piece)| Token {
                offset_from: piece.from,
                offset_to: piece.to,
                position,
                position_length: 1,
                text: piece.text,
            })
            .collect();
        PieceStream { tokens, next: 0 }
    }
}

impl TokenStream for PieceStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

pub struct SearchIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    /// In memory because another process holds the directory.
    pub displaced: bool,
}

impl SearchIndex {
    /// Opens the index in `dir`, or makes a new one there; `None` keeps it in memory. An index
    /// that cannot be opened (damaged, or written by an older schema) is thrown away and made
    /// anew: it is only a copy of the catalog, rebuilt from it.
    pub fn open(dir: Option<&Path>) -> anyhow::Result<Self> {
        let (layout, fields) = schema();
        let index = match dir {
            None => Index::create_in_ram(layout),
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                match Index::open_or_create(MmapDirectory::open(dir)?, layout.clone()) {
                    Ok(index) => index,
                    Err(err) => {
                        tracing::warn!(error = %err, dir = %dir.display(), "the search index cannot be opened; making a new one");
                        std::fs::remove_dir_all(dir)?;
                        std::fs::create_dir_all(dir)?;
                        Index::create_in_dir(dir, layout)?
                    }
                }
            }
        };
        let (index, writer, displaced) = match writer(&index) {
            Ok(writer) => (index, writer, false),
            // Another process holds the directory (a second instance started on the same data
            // directory): this one keeps its index in memory, rebuilt on start.
            Err(tantivy::TantivyError::LockFailure(..)) if dir.is_some() => {
                tracing::warn!(
                    "another process holds the search index directory; this one keeps its index in memory"
                );
                let index = Index::create_in_ram(schema().0);
                let writer = writer(&index)?;
                (index, writer, true)
            }
            Err(other) => return Err(other.into()),
        };
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { reader, writer: Mutex::new(writer), fields, displaced })
    }

    /// Products in the index (as of the last commit).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn document(&self, product: &IndexedProduct) -> TantivyDocument {
        let f = self.fields;
        let mut doc = TantivyDocument::new();
        doc.add_text(f.id, &product.id);
        doc.add_text(f.slug, &product.slug);
        doc.add_text(f.name, &product.name);
        doc.add_text(f.name_cjk, &product.name);
        doc.add_text(f.description, &product.description);
        doc.add_text(f.description_cjk, &product.description);
        doc.add_text(f.kind, &product.kind);
        doc.add_text(f.category, &product.category);
        if let Some(brand) = &product.brand {
            doc.add_text(f.brand, brand);
        }
        if let Some(seller) = &product.seller {
            doc.add_text(f.seller, seller);
        }
        doc.add_u64(f.price, product.price);
        doc.add_text(f.currency, &product.currency);
        doc.add_u64(f.in_stock, u64::from(product.in_stock));
        doc.add_u64(f.created_at, product.created_at);
        if let Some(rating) = domain::indexed_rating(product.rating_sum, product.rating_count) {
            doc.add_u64(f.rating, rating);
        }
        doc.add_u64(f.rating_sum, product.rating_sum);
        doc.add_u64(f.rating_count, product.rating_count);
        doc
    }

    /// Puts these products in (replacing what the index had of them) and takes these ids out,
    /// then commits and makes the change visible to searches.
    pub fn apply(&self, upserts: &[IndexedProduct], removals: &[String]) -> anyhow::Result<()> {
        let mut writer = self.writer.lock().expect("the index writer lock");
        for id in removals {
            writer.delete_term(Term::from_field_text(self.fields.id, id));
        }
        for product in upserts {
            writer.delete_term(Term::from_field_text(self.fields.id, &product.id));
            writer.add_document(self.document(product))?;
        }
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Starts a rebuild: everything is taken out (searches still see the old index until
    /// [`SearchIndex::commit`]).
    pub fn clear(&self) -> anyhow::Result<()> {
        self.writer.lock().expect("the index writer lock").delete_all_documents()?;
        Ok(())
    }

    /// Adds products without committing (a rebuild's pages).
    pub fn add(&self, products: &[IndexedProduct]) -> anyhow::Result<()> {
        let writer = self.writer.lock().expect("the index writer lock");
        for product in products {
            writer.add_document(self.document(product))?;
        }
        Ok(())
    }

    pub fn commit(&self) -> anyhow::Result<()> {
        self.writer.lock().expect("the index writer lock").commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// The Tantivy query for the text: every word (and every CJK run) must match. A word
    /// matches exactly (scored by BM25, weighted most), within one edit when it is long enough
    /// (constant score), or as the beginning of a word while it is being typed; names weigh
    /// more than descriptions.
    fn text_query(&self, text: &ParsedQuery) -> Box<dyn Query> {
        let f = self.fields;
        let mut musts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in &text.words {
            let name_term = Term::from_field_text(f.name, &word.text);
            let mut ways: Vec<(Occur, Box<dyn Query>)> = vec![
                (
                    Occur::Should,
                    boosted(TermQuery::new(name_term.clone(), IndexRecordOption::WithFreqs), 3.0),
                ),
                (
                    Occur::Should,
                    boosted(
                        TermQuery::new(
                            Term::from_field_text(f.description, &word.text),
                            IndexRecordOption::WithFreqs,
                        ),
                        0.5,
                    ),
                ),
            ];
            if word.fuzzy {
                ways.push((Occur::Should, boosted(FuzzyTermQuery::new(name_term.clone(), 1, true), 1.0)));
            }
            if word.prefix {
                ways.push((Occur::Should, boosted(FuzzyTermQuery::new_prefix(name_term, 0, true), 1.5)));
            }
            musts.push((Occur::Must, Box::new(BooleanQuery::new(ways))));
        }
        for run in &text.cjk_runs {
            let grams = domain::cjk_query_grams(run);
            let all = |field: Field| -> Box<dyn Query> {
                Box::new(BooleanQuery::new(
                    grams
                        .iter()
                        .map(|gram| {
                            let term = Term::from_field_text(field, gram);
                            (
                                Occur::Must,
                                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
                                    as Box<dyn Query>,
                            )
                        })
                        .collect(),
                ))
            };
            let ways = vec![
                (Occur::Should, boosted_box(all(f.name_cjk), 3.0)),
                (Occur::Should, boosted_box(all(f.description_cjk), 0.5)),
            ];
            musts.push((Occur::Must, Box::new(BooleanQuery::new(ways))));
        }
        Box::new(BooleanQuery::new(musts))
    }

    fn query(&self, q: &IndexQuery) -> Box<dyn Query> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !q.text.is_empty() {
            clauses.push((Occur::Must, self.text_query(&q.text)));
        }
        let raw = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
        };
        if let Some(categories) = &q.categories {
            let any = categories.iter().map(|c| (Occur::Should, raw(f.category, c))).collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if let Some(brand) = &q.brand {
            clauses.push((Occur::Must, raw(f.brand, brand)));
        }
        if let Some(seller) = &q.seller {
            clauses.push((Occur::Must, raw(f.seller, seller)));
        }
        if q.price_min.is_some() || q.price_max.is_some() {
            let low =
                q.price_min.map_or(Bound::Unbounded, |p| Bound::Included(Term::from_field_u64(f.price, p)));
            let high =
                q.price_max.map_or(Bound::Unbounded, |p| Bound::Included(Term::from_field_u64(f.price, p)));
            let range = match (low, high) {
                (Bound::Unbounded, high) => {
                    RangeQuery::new(Bound::Included(Term::from_field_u64(f.price, 0)), high)
                }
                (low, high) => RangeQuery::new(low, high),
            };
            clauses.push((Occur::Must, Box::new(range)));
        }
        if let Some(in_stock) = q.in_stock {
            let term = Term::from_field_u64(f.in_stock, u64::from(in_stock));
            clauses.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
        }
        if let Some(stars) = q.rating_min {
            // Unrated products have no rating term and so never match.
            let low = Term::from_field_u64(f.rating, stars.saturating_mul(100));
            clauses.push((Occur::Must, Box::new(RangeQuery::new(Bound::Included(low), Bound::Unbounded))));
        }
        if clauses.is_empty() {
            return Box::new(AllQuery);
        }
        // Filters must match but add nothing to the score.
        if q.text.is_empty() {
            return Box::new(BooleanQuery::new(clauses));
        }
        let (text, filters) = clauses.split_at(1);
        let mut all = vec![(Occur::Must, text[0].1.box_clone())];
        all.extend(filters.iter().map(|(_, filter)| {
            (
                Occur::Must,
                Box::new(tantivy::query::ConstScoreQuery::new(filter.box_clone(), 0.0)) as Box<dyn Query>,
            )
        }));
        Box::new(BooleanQuery::new(all))
    }

    pub fn search(&self, q: &IndexQuery) -> anyhow::Result<IndexAnswer> {
        let searcher = self.reader.searcher();
        let query = self.query(q);
        let window = TopDocs::with_limit(q.limit.max(1)).and_offset(q.offset);
        let facets = FacetCollector { enabled: q.facets };
        let by_relevance = q.sort == SearchSort::Relevance && !q.text.is_empty();
        let (hits, total, facets): (Vec<(Option<f32>, DocAddress)>, usize, FacetCounts) = if by_relevance {
            let (top, total, facets) = searcher.search(&query, &(window, Count, facets))?;
            (top.into_iter().map(|(score, address)| (Some(score), address)).collect(), total, facets)
        } else {
            // Without text to rank by, relevance means newest first.
            let (field, order) = match q.sort {
                SearchSort::PriceAsc => ("price", Order::Asc),
                SearchSort::PriceDesc => ("price", Order::Desc),
                SearchSort::Newest | SearchSort::Relevance => ("created_at", Order::Desc),
            };
            let (top, total, facets) =
                searcher.search(&query, &(window.order_by_fast_field::<u64>(field, order), Count, facets))?;
            (top.into_iter().map(|(_, address): (u64, DocAddress)| (None, address)).collect(), total, facets)
        };
        let mut found = Vec::with_capacity(hits.len());
        for (score, address) in hits {
            let doc: TantivyDocument = searcher.doc(address)?;
            found.push(IndexHit { product: self.product_of(&doc), score });
        }
        Ok(IndexAnswer { hits: found, total, facets })
    }

    fn product_of(&self, doc: &TantivyDocument) -> IndexedProduct {
        let f = self.fields;
        let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_owned);
        let number = |field: Field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
        IndexedProduct {
            id: text(f.id).unwrap_or_default(),
            slug: text(f.slug).unwrap_or_default(),
            name: text(f.name).unwrap_or_default(),
            description: String::new(),
            kind: text(f.kind).unwrap_or_default(),
            category: text(f.category).unwrap_or_default(),
            brand: text(f.brand),
            seller: text(f.seller),
            price: number(f.price),
            currency: text(f.currency).unwrap_or_default(),
            in_stock: number(f.in_stock) == 1,
            created_at: 0,
            rating_sum: number(f.rating_sum),
            rating_count: number(f.rating_count),
        }
    }
}

fn boosted(query: impl Query, boost: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(Box::new(query), boost))
}

fn boosted_box(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, boost))
}

/// Counts the facets of every matching document from the fast fields.
struct FacetCollector {
    enabled: bool,
}

struct SegmentFacets {
    columns: Option<SegmentColumns>,
    category: Vec<u64>,
    brand: Vec<u64>,
    seller: Vec<u64>,
    price: Vec<u64>,
    in_stock: [u64; 2],
    rating: [u64; 6],
}

struct SegmentColumns {
    category: Option<StrColumn>,
    brand: Option<StrColumn>,
    seller: Option<StrColumn>,
    price: Column<u64>,
    in_stock: Column<u64>,
    /// None in a segment where no product is rated.
    rating: Option<Column<u64>>,
}

fn terms(column: &Option<StrColumn>) -> Vec<u64> {
    vec![0; column.as_ref().map_or(0, |c| c.dictionary().num_terms())]
}

fn count_ords(column: &Option<StrColumn>, counts: &mut [u64], doc: DocId) {
    if let Some(column) = column {
        for ord in column.term_ords(doc) {
            counts[ord as usize] += 1;
        }
    }
}

fn named(column: &Option<StrColumn>, counts: Vec<u64>) -> HashMap<String, u64> {
    let mut named = HashMap::new();
    let Some(column) = column else { return named };
    let mut text = String::new();
    for (ord, count) in counts.into_iter().enumerate().filter(|(_, count)| *count > 0) {
        if column.ord_to_str(ord as u64, &mut text).unwrap_or(false) {
            named.insert(text.clone(), count);
        }
    }
    named
}

impl Collector for FacetCollector {
    type Fruit = FacetCounts;
    type Child = SegmentFacets;

    fn for_segment(&self, _: u32, segment: &SegmentReader) -> tantivy::Result<SegmentFacets> {
        let columns = if self.enabled {
            let fast = segment.fast_fields();
            Some(SegmentColumns {
                category: fast.str("category")?,
                brand: fast.str("brand")?,
                seller: fast.str("seller")?,
                price: fast.u64("price")?,
                in_stock: fast.u64("in_stock")?,
                rating: fast.column_opt("rating")?,
            })
        } else {
            None
        };
        let empty = None;
        let columns_ref = columns.as_ref();
        Ok(SegmentFacets {
            category: terms(columns_ref.map_or(&empty, |c| &c.category)),
            brand: terms(columns_ref.map_or(&empty, |c| &c.brand)),
            seller: terms(columns_ref.map_or(&empty, |c| &c.seller)),
            price: vec![0; PRICE_EDGES.len() + 1],
            in_stock: [0; 2],
            rating: [0; 6],
            columns,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetCounts>) -> tantivy::Result<FacetCounts> {
        let mut total = FacetCounts { price: vec![0; PRICE_EDGES.len() + 1], ..FacetCounts::default() };
        for fruit in fruits {
            for (into, from) in [
                (&mut total.category, fruit.category),
                (&mut total.brand, fruit.brand),
                (&mut total.seller, fruit.seller),
            ] {
                for (value, count) in from {
                    *into.entry(value).or_default() += count;
                }
            }
            for (into, from) in total.price.iter_mut().zip(fruit.price) {
                *into += from;
            }
            total.in_stock[0] += fruit.in_stock[0];
            total.in_stock[1] += fruit.in_stock[1];
            for (into, from) in total.rating.iter_mut().zip(fruit.rating) {
                *into += from;
            }
        }
        Ok(total)
    }
}

impl SegmentCollector for SegmentFacets {
    type Fruit = FacetCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(columns) = &self.columns else { return };
        count_ords(&columns.category, &mut self.category, doc);
        count_ords(&columns.brand, &mut self.brand, doc);
        count_ords(&columns.seller, &mut self.seller, doc);
        if let Some(price) = columns.price.first(doc) {
            self.price[domain::price_bucket(price)] += 1;
        }
        if let Some(in_stock) = columns.in_stock.first(doc) {
            self.in_stock[usize::from(in_stock == 1)] += 1;
        }
        if let Some(rating) = columns.rating.as_ref().and_then(|column| column.first(doc)) {
            self.rating[domain::whole_stars(rating)] += 1;
        }
    }

    fn harvest(self) -> FacetCounts {
        let Some(columns) = self.columns else { return FacetCounts::default() };
        FacetCounts {
            category: named(&columns.category, self.category),
            brand: named(&columns.brand, self.brand),
            seller: named(&columns.seller, self.seller),
            price: self.price,
            in_stock: self.in_stock,
            rating: self.rating,
        }
    }
}

#[cfg(test)]
mod cpu {
    //! The index's CPU per search over a catalog the size of the search benchmark's, without
    //! HTTP: run with
    //! `cargo test --release -p pasar --lib search::store::cpu -- --ignored --nocapture`.
    //! The machine's other load skews latency, not much the CPU time measured here.

    use std::time::Instant;

    use super::*;

    /// This thread's CPU time so far, in microseconds: what a search costs, however busy the
    /// machine's other cores are.
    fn cpu_micros() -> f64 {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
        stat.split_whitespace().next().unwrap().parse::<f64>().unwrap() / 1_000.0
    }

    include!("../../../pasar-bench/src/vocabulary.rs");

    const PRODUCTS: usize = 100_000;
    /// Products per commit: what a relay round of the benchmark's seeding carries, so the
    /// segments are those the benchmark searches.
    const ROUND: usize = 128;

    /// A cheap deterministic generator (the lib has no `rand`).
    struct Dice(u64);

    impl Dice {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    fn latin() -> Vec<&'static str> {
        INDONESIAN.iter().chain(ENGLISH).copied().collect()
    }

    fn product(dice: &mut Dice, latin: &[&str], i: usize) -> IndexedProduct {
        let japanese = i % 3 == 2;
        let words = if japanese { JAPANESE } else { latin };
        let picked: Vec<&str> = (0..2 + dice.below(3)).map(|_| words[dice.below(words.len())]).collect();
        let size = SIZES[dice.below(SIZES.len())];
        let name = if japanese {
            format!("{} {size}", picked.concat())
        } else {
            format!("{} {size}", picked.join(" "))
        };
        IndexedProduct {
            id: format!("prd_{i:032}"),
            slug: format!("p-{i}"),
            name,
            description: String::new(),
            kind: "physical".into(),
            category: format!("cat_{:032}", i % 20),
            brand: Some(format!("brd_{:032}", (i / 3) % 30)),
            seller: None,
            price: (1 + dice.below(4_999) as u64) * 100,
            currency: "IDR".into(),
            in_stock: i % 7 != 0,
            created_at: i as u64,
            rating_sum: 0,
            rating_count: 0,
        }
    }

    /// The benchmark's mix: words, pairs, prefixes being typed, typos and Japanese; a fifth
    /// sorted by price, a fifth with a price range; every one counting its facets.
    fn queries(dice: &mut Dice, count: usize) -> Vec<IndexQuery> {
        let latin = latin();
        (0..count)
            .map(|i| {
                let word = latin[dice.below(latin.len())];
                let text = match i % 6 {
                    0 => format!("{word} "),
                    1 => format!("{word} {} ", latin[dice.below(latin.len())]),
                    2 => word.chars().take(3.max(word.len() / 2)).collect(),
                    3 if word.len() >= 5 => {
                        let mut chars: Vec<char> = word.chars().collect();
                        chars.swap(1, 2);
                        format!("{} ", chars.into_iter().collect::<String>())
                    }
                    _ => JAPANESE[dice.below(JAPANESE.len())].to_owned(),
                };
                let (sort, price_min, price_max) = match i % 5 {
                    0 => (SearchSort::PriceAsc, None, None),
                    1 => (SearchSort::Relevance, Some(10_000), Some(200_000)),
                    _ => (SearchSort::Relevance, None, None),
                };
                IndexQuery {
                    text: ParsedQuery::parse(&text),
                    price_min,
                    price_max,
                    sort,
                    limit: 21,
                    facets: true,
                    ..IndexQuery::default()
                }
            })
            .collect()
    }

    #[test]
    #[ignore = "a benchmark: 100,000 products, run in release"]
    fn cpu_per_search_over_the_benchmark_catalog() {
        let index = SearchIndex::open(None).unwrap();
        let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
        let started = Instant::now();
        let products: Vec<IndexedProduct> = {
            let latin = latin();
            (0..PRODUCTS).map(|i| product(&mut dice, &latin, i)).collect()
        };
        for round in products.chunks(ROUND) {
            index.apply(round, &[]).unwrap();
        }
        let segments = index.reader.searcher().segment_readers().len();
        println!("indexed {PRODUCTS} in {:.1} s, {segments} segments", started.elapsed().as_secs_f64());
        let queries = queries(&mut dice, 1_000);
        let mut matched = 0;
        for q in &queries {
            matched += index.search(q).unwrap().total;
        }
        let rounds = 3;
        let started = cpu_micros();
        for _ in 0..rounds {
            for q in &queries {
                std::hint::black_box(index.search(q).unwrap());
            }
        }
        let per_search = (cpu_micros() - started) / (rounds * queries.len()) as f64;
        let suggestions: Vec<IndexQuery> = queries
            .iter()
            .filter(|q| q.text.words.last().is_some_and(|w| w.prefix))
            .map(|q| IndexQuery { text: q.text.clone(), limit: 10, ..IndexQuery::default() })
            .collect();
        let started = cpu_micros();
        for _ in 0..rounds {
            for q in &suggestions {
                std::hint::black_box(index.search(q).unwrap());
            }
        }
        let per_suggestion = (cpu_micros() - started) / (rounds * suggestions.len()) as f64;
        println!(
            "CPU per search: {per_search:.0} µs ({} matches on average); per suggestion: {per_suggestion:.0} µs",
            matched / queries.len()
        );
    }
}
