//! What a job costs and what it counts against a quota: pure rules, no I/O. The server
//! prices, reserves and charges by them; the client, to apply an offline credit line to
//! what it printed without the server, reckons the same prices.

use ream_wire::{PriceList, QuotaMetric};

/// A3 and its kin count as two pages, as their sheets are twice the size.
pub fn size_factor(media: &str) -> i64 {
    if media.starts_with("iso_a3") || media.starts_with("na_ledger") || media.starts_with("na_tabloid") {
        2
    } else {
        1
    }
}

/// The pages a job prints as a quota or a price counts them: pages × copies, A3 twice.
pub fn printed_pages(pages: i64, copies: i64, media: &str) -> i64 {
    pages * copies * size_factor(media)
}

/// The job's price from a price list: every printed page (pages × copies, A3 counting
/// twice) at the mono or colour price, less the duplex discount per page.
pub fn price(list: &PriceList, pages: i64, copies: i64, colour: bool, duplex: bool, media: &str) -> i64 {
    let counted = printed_pages(pages, copies, media);
    let per_page = if colour { list.colour_page_cents } else { list.mono_page_cents };
    let discount = if duplex { list.duplex_page_discount_cents } else { 0 };
    (counted * (per_page - discount)).max(0)
}

/// What a job counts against a quota of this metric.
pub fn quota_amount(metric: QuotaMetric, printed_pages: i64, colour: bool, price_cents: i64) -> i64 {
    match metric {
        QuotaMetric::TotalPages => printed_pages,
        QuotaMetric::ColourPages if colour => printed_pages,
        QuotaMetric::MonoPages if !colour => printed_pages,
        QuotaMetric::ColourPages | QuotaMetric::MonoPages => 0,
        QuotaMetric::Money => price_cents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A4: &str = "iso_a4_210x297mm";

    fn list() -> PriceList {
        PriceList {
            name: "std".into(),
            mono_page_cents: 5,
            colour_page_cents: 20,
            duplex_page_discount_cents: 1,
        }
    }

    #[test]
    fn prices_follow_the_price_list() {
        let check = |pages, copies, colour, duplex, media, expected| {
            assert_eq!(
                price(&list(), pages, copies, colour, duplex, media),
                expected,
                "{pages}×{copies} {media}"
            );
        };
        check(3, 1, false, false, A4, 15);
        check(3, 2, true, false, A4, 120);
        check(3, 1, false, true, A4, 12);
        check(3, 1, false, false, "iso_a3_297x420mm", 30);
        check(1, 1, true, false, "na_ledger_11x17in", 40);
    }

    #[test]
    fn a_discount_larger_than_the_page_price_makes_the_job_free_not_paid() {
        let generous = PriceList { duplex_page_discount_cents: 9, ..list() };
        assert_eq!(price(&generous, 4, 1, false, true, A4), 0);
    }

    #[test]
    fn each_quota_metric_counts_its_own_pages() {
        let check = |metric, colour, expected| {
            assert_eq!(quota_amount(metric, 6, colour, 90), expected, "{metric:?} colour={colour}");
        };
        check(QuotaMetric::TotalPages, false, 6);
        check(QuotaMetric::TotalPages, true, 6);
        check(QuotaMetric::ColourPages, true, 6);
        check(QuotaMetric::ColourPages, false, 0);
        check(QuotaMetric::MonoPages, false, 6);
        check(QuotaMetric::MonoPages, true, 0);
        check(QuotaMetric::Money, false, 90);
    }
}
