//! Search's pure rules: how text is cut into terms (Latin words for Indonesian and English,
//! character n-grams for Japanese), which words get typo tolerance and prefix matching, how a
//! hit's name is highlighted, and the price buckets of the price facet. No I/O here.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Words shorter than this (in characters) must be spelled right; longer ones may have one
/// edit (a wrong, missing, extra or swapped letter).
pub const TYPO_MIN_CHARS: usize = 5;

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// A term cut from text, with where it came from (byte offsets), for highlighting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub from: usize,
    pub to: usize,
}

/// Whether a character belongs to a script written without spaces (Japanese kana and kanji,
/// Chinese hanzi): such text is cut into n-grams instead of words.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}'              // 々
        | '\u{3040}'..='\u{30ff}' // hiragana, katakana (with ー)
        | '\u{3400}'..='\u{4dbf}' // CJK extension A
        | '\u{4e00}'..='\u{9fff}' // CJK unified ideographs
        | '\u{f900}'..='\u{faff}' // compatibility ideographs
        | '\u{ff66}'..='\u{ff9f}' // half-width katakana
    )
}

/// The words of a text in spaced scripts (Latin for Indonesian and English), lower-cased:
/// runs of letters and digits, cut at anything else and at CJK characters.
pub fn words(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut start: Option<usize> = None;
    for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
        let in_word = c.is_alphanumeric() && !is_cjk(c);
        match (in_word, start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                pieces.push(Piece { text: text[from..at].to_lowercase(), from, to: at });
                start = None;
            }
            _ => {}
        }
    }
    pieces
}

/// The runs of CJK characters in a text, each as one piece.
pub fn cjk_runs(text: &str) -> Vec<Piece> {
    let mut runs = Vec::new();
    let mut start: Option<usize> = None;
    for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (is_cjk(c), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                runs.push(Piece { text: text[from..at].to_owned(), from, to: at });
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// The n-grams a text is indexed under: every single CJK character and every pair of
/// neighbours within a run. Unigrams find one-character queries (米, rice); bigrams make
/// longer queries precise.
pub fn cjk_grams(text: &str) -> Vec<Piece> {
    let mut grams = Vec::new();
    for run in cjk_runs(text) {
        let chars: Vec<(usize, char)> = run.text.char_indices().map(|(i, c)| (run.from + i, c)).collect();
        for (i, &(at, c)) in chars.iter().enumerate() {
            let end = at + c.len_utf8();
            grams.push(Piece { text: c.to_string(), from: at, to: end });
            if let Some(&(next_at, next)) = chars.get(i + 1) {
                let to = next_at + next.len_utf8();
                grams.push(Piece { text: run.text[at - run.from..to - run.from].to_owned(), from: at, to });
            }
        }
    }
    grams
}

/// The terms a CJK run of a query must all match: the run itself when it is one character,
/// else its bigrams (so 牛乳パック needs 牛乳, 乳パ, パッ, ック).
pub fn cjk_query_grams(run: &str) -> Vec<String> {
    let chars: Vec<char> = run.chars().collect();
    if chars.len() == 1 {
        return vec![run.to_owned()];
    }
    chars.windows(2).map(|pair| pair.iter().collect()).collect()
}

/// One word of a query and how it may match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryWord {
    pub text: String,
    /// One edit is forgiven (the word is long enough for a typo not to change its meaning).
    pub fuzzy: bool,
    /// The word is still being typed: it also matches words it begins.
    pub prefix: bool,
}

/// What a query asks for: its words and its CJK runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    pub words: Vec<QueryWord>,
    pub cjk_runs: Vec<String>,
}

impl ParsedQuery {
    /// Cuts a query. The last word is taken as a prefix unless the query ends with a space (the
    /// shopper has finished it): search as you type.
    pub fn parse(q: &str) -> Self {
        let pieces = words(q);
        let typing = q.chars().last().is_some_and(|c| c.is_alphanumeric() && !is_cjk(c));
        let last = pieces.len().saturating_sub(1);
        let words = pieces
            .into_iter()
            .enumerate()
            .map(|(i, piece)| QueryWord {
                fuzzy: piece.text.chars().count() >= TYPO_MIN_CHARS,
                prefix: typing && i == last,
                text: piece.text,
            })
            .collect();
        Self { words, cjk_runs: cjk_runs(q).into_iter().map(|run| run.text).collect() }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.cjk_runs.is_empty()
    }
}

/// At most one edit (Damerau: a substitution, insertion, deletion or swap of neighbours)
/// between two words.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    match long.len() - short.len() {
        0 => {
            let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
            diff.len() == 1
                || (diff.len() == 2
                    && diff[1] == diff[0] + 1
                    && a[diff[0]] == b[diff[1]]
                    && a[diff[1]] == b[diff[0]])
        }
        1 => {
            let first = (0..short.len()).find(|&i| short[i] != long[i]).unwrap_or(short.len());
            short[first..] == long[first + 1..]
        }
        _ => false,
    }
}

/// Whether a name's word is one the query's word matches (the same rules the index applies).
fn word_matches(name_word: &str, query: &QueryWord) -> bool {
    name_word == query.text
        || (query.prefix && name_word.starts_with(&query.text))
        || (query.fuzzy && within_one_edit(name_word, &query.text))
}

/// The name with the parts the query matched wrapped in `<mark>…</mark>`, everything else
/// HTML-escaped (a name is the shop's text, shown in a page).
pub fn highlight(name: &str, query: &ParsedQuery) -> String {
    let mut marks: Vec<(usize, usize)> = words(name)
        .into_iter()
        .filter(|piece| query.words.iter().any(|word| word_matches(&piece.text, word)))
        .map(|piece| (piece.from, piece.to))
        .collect();
    for run in &query.cjk_runs {
        let mut from = 0;
        while let Some(at) = name[from..].find(run.as_str()) {
            marks.push((from + at, from + at + run.len()));
            from += at + run.len();
        }
    }
    marks.sort_unstable();
    let mut out = String::with_capacity(name.len() + marks.len() * 13);
    let mut at = 0;
    for (from, to) in marks {
        if from < at {
            continue;
        }
        escape_into(&mut out, &name[at..from]);
        out.push_str("<mark>");
        escape_into(&mut out, &name[from..to]);
        out.push_str("</mark>");
        at = to;
    }
    escape_into(&mut out, &name[at..]);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// How results are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    /// Best match first (BM25); newest first when there is no query text.
    #[default]
    Relevance,
    Newest,
    PriceAsc,
    PriceDesc,
}

/// The edges of the price facet's buckets, in minor units: powers of ten, so the buckets read
/// naturally in rupiah and yen alike (under 1,000; 1,000 to 9,999; …).
pub const PRICE_EDGES: [u64; 6] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/// The bucket a price falls in: its index in `0..=PRICE_EDGES.len()`.
pub fn price_bucket(price: u64) -> usize {
    PRICE_EDGES.iter().take_while(|&&edge| price >= edge).count()
}

/// A bucket's bounds: the lowest price in it and the lowest above it (none for the last).
pub fn bucket_bounds(bucket: usize) -> (u64, Option<u64>) {
    let min = if bucket == 0 { 0 } else { PRICE_EDGES[bucket - 1] };
    (min, PRICE_EDGES.get(bucket).copied())
}

/// A price bucket's value as the facet gives it, `min-max` with both ends included (`1000-9999`),
/// or `min-` for the open last one: the same numbers `price_min` and `price_max` take.
pub struct BucketName(pub usize);

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match bucket_bounds(self.0) {
            (min, Some(above)) => write!(f, "{min}-{}", above - 1),
            (min, None) => write!(f, "{min}-"),
        }
    }
}

/// The thresholds of the rating facet, highest first: "4 stars & up" and so on, the values
/// `rating_min` takes.
pub const RATING_THRESHOLDS: [u64; 4] = [4, 3, 2, 1];

/// What the index keeps of a rating: the average in hundredths of a star, rounded down, so
/// that it is at least `stars × 100` exactly when the average (sum / count) is at least
/// `stars`. None for a product without reviews, which no rating filter matches.
pub fn indexed_rating(sum: u64, count: u64) -> Option<u64> {
    (count > 0).then(|| sum.saturating_mul(100) / count)
}

/// The whole stars an indexed rating reaches (0 to 5): where the facet counts it.
pub fn whole_stars(indexed: u64) -> usize {
    usize::try_from(indexed / 100).unwrap_or(5).min(5)
}

/// How many products reach at least `stars`, from the counts by whole stars.
pub fn at_least(by_whole_stars: &[u64; 6], stars: u64) -> u64 {
    by_whole_stars.iter().skip(usize::try_from(stars).unwrap_or(6)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pieces: Vec<Piece>) -> Vec<String> {
        pieces.into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn latin_text_is_cut_into_lower_case_words_and_cjk_is_left_out() {
        assert_eq!(texts(words("Beras Putih 5kg, Premium!")), ["beras", "putih", "5kg", "premium"]);
        assert_eq!(texts(words("Coca-Colaゼロ 500ml")), ["coca", "cola", "500ml"]);
        assert_eq!(texts(words("北海道牛乳")), Vec::<String>::new());
    }

    #[test]
    fn japanese_is_cut_into_unigrams_and_bigrams_within_runs() {
        assert_eq!(texts(cjk_grams("牛乳 1L")), ["牛", "牛乳", "乳"]);
        assert_eq!(texts(cjk_grams("お米")), ["お", "お米", "米"]);
        let grams = cjk_grams("Aお米");
        assert_eq!((grams[0].from, grams[0].to), (1, 4));
        assert_eq!(cjk_query_grams("牛乳パック"), ["牛乳", "乳パ", "パッ", "ック"]);
        assert_eq!(cjk_query_grams("米"), ["米"]);
    }

    #[test]
    fn the_last_word_is_a_prefix_while_it_is_being_typed_and_long_words_forgive_a_typo() {
        let q = ParsedQuery::parse("beras put");
        assert_eq!(
            q.words,
            [
                QueryWord { text: "beras".into(), fuzzy: true, prefix: false },
                QueryWord { text: "put".into(), fuzzy: false, prefix: true },
            ]
        );
        assert!(!ParsedQuery::parse("beras ").words[0].prefix);
        assert_eq!(ParsedQuery::parse("お茶 green").cjk_runs, ["お茶"]);
        assert!(ParsedQuery::parse(" ,. ").is_empty());
    }

    #[test]
    fn one_edit_is_a_substitution_an_insertion_a_deletion_or_a_swap() {
        assert!(within_one_edit("beras", "beras"));
        assert!(within_one_edit("beras", "berqs"));
        assert!(within_one_edit("beras", "bers"));
        assert!(within_one_edit("beras", "bearas"));
        assert!(within_one_edit("beras", "bears"));
        assert!(!within_one_edit("beras", "braes"));
        assert!(!within_one_edit("beras", "bxrxs"));
        assert!(!within_one_edit("beras", "be"));
    }

    #[test]
    fn highlighting_marks_matched_words_and_escapes_the_rest() {
        let q = ParsedQuery::parse("beras prem");
        assert_eq!(
            highlight("Beras <Putih> Premium", &q),
            "<mark>Beras</mark> &lt;Putih&gt; <mark>Premium</mark>"
        );
        let q = ParsedQuery::parse("kopu ");
        assert_eq!(highlight("Kopi Luwak", &q), "Kopi Luwak", "short words need the exact spelling");
        let q = ParsedQuery::parse("kecap manis ");
        assert_eq!(highlight("Kecap Manus", &q), "<mark>Kecap</mark> <mark>Manus</mark>");
        let q = ParsedQuery::parse("牛乳");
        assert_eq!(highlight("北海道牛乳 1L", &q), "北海道<mark>牛乳</mark> 1L");
    }

    #[test]
    fn a_rating_is_indexed_so_that_a_threshold_is_exact() {
        assert_eq!(indexed_rating(0, 0), None);
        assert_eq!(indexed_rating(13, 3), Some(433));
        // 4 reviews of 4, 4, 4, 3: 3.75 is below 4 and at least 3.
        let three_and_three_quarters = indexed_rating(15, 4).unwrap();
        assert!((300..400).contains(&three_and_three_quarters));
        // Exactly 4 is 4 and up.
        assert_eq!(indexed_rating(8, 2), Some(400));
        // Just under 4 (3.999…) is not.
        assert!(indexed_rating(3_999, 1_000).unwrap() < 400);
        assert_eq!(whole_stars(500), 5);
        assert_eq!(whole_stars(499), 4);
        assert_eq!(whole_stars(100), 1);
    }

    #[test]
    fn the_rating_facet_counts_products_at_or_above_each_threshold() {
        // By whole stars: none at 0, one at 1, none at 2, two at 3, one at 4, three at 5.
        let counts = [0, 1, 0, 2, 1, 3];
        let buckets: Vec<u64> = RATING_THRESHOLDS.iter().map(|&t| at_least(&counts, t)).collect();
        assert_eq!(buckets, [4, 6, 6, 7]);
    }

    #[test]
    fn prices_fall_in_power_of_ten_buckets_named_by_their_inclusive_bounds() {
        assert_eq!(price_bucket(0), 0);
        assert_eq!(price_bucket(999), 0);
        assert_eq!(price_bucket(1_000), 1);
        assert_eq!(price_bucket(45_000), 2);
        assert_eq!(price_bucket(u64::MAX), PRICE_EDGES.len());
        assert_eq!(BucketName(0).to_string(), "0-999");
        assert_eq!(BucketName(2).to_string(), "10000-99999");
        assert_eq!(BucketName(PRICE_EDGES.len()).to_string(), "100000000-");
    }
}
