//! The countries simulated subjects come from, and the blocks of fictional numbers each one
//! hands out: reserved drama/test ranges where the country has them (UK, North America, Germany,
//! France), clearly synthetic blocks full of zeros elsewhere. A declarative table; the pool that
//! draws from it is in `subjects`.

use super::words::Region;

/// A country the pool draws numbers from.
pub struct Country {
    pub iso: &'static str,
    pub cc: &'static str,
    pub lang: &'static str,
    pub currency: &'static str,
    pub region: Region,
    /// Relative share of the pool while the country still has free numbers.
    pub(super) weight: u32,
    /// (national prefix, how many numbers follow it, digits that vary, display groups).
    pub(super) blocks: &'static [(&'static str, u32, u32, &'static [usize])],
}

impl Country {
    pub(super) fn capacity(&self) -> u32 {
        self.blocks.iter().map(|b| b.1).sum()
    }

    /// The national number (and its display grouping) for free slot `slot`.
    pub(super) fn national(&self, mut slot: u32) -> (String, &'static [usize]) {
        for &(prefix, count, width, groups) in self.blocks {
            if slot < count {
                return (format!("{prefix}{slot:0w$}", w = width as usize), groups);
            }
            slot -= count;
        }
        unreachable!("slot is below the country's capacity")
    }
}

/// UK: Ofcom's drama range 07700 900000-900999. US/Canada: 555-0100..0199 in real area codes.
/// Germany: the Bundesnetzagentur drama numbers of Berlin, Frankfurt, Hamburg, Cologne, Munich.
/// France: ARCEP's fiction mobile range 06 39 98 xx xx. Everything else: synthetic blocks full of
/// zeros that no operator hands out.
pub const COUNTRIES: &[Country] = &[
    Country {
        iso: "GB",
        cc: "44",
        lang: "en_GB",
        currency: "GBP",
        region: Region::English,
        weight: 22,
        blocks: &[("7700900", 1000, 3, &[4, 6])],
    },
    Country {
        iso: "US",
        cc: "1",
        lang: "en_US",
        currency: "USD",
        region: Region::English,
        weight: 14,
        blocks: &[
            ("41555501", 100, 2, &[3, 3, 4]),
            ("21255501", 100, 2, &[3, 3, 4]),
            ("31055501", 100, 2, &[3, 3, 4]),
            ("65055501", 100, 2, &[3, 3, 4]),
            ("31255501", 100, 2, &[3, 3, 4]),
            ("20655501", 100, 2, &[3, 3, 4]),
            ("61755501", 100, 2, &[3, 3, 4]),
            ("30555501", 100, 2, &[3, 3, 4]),
            ("51255501", 100, 2, &[3, 3, 4]),
            ("70255501", 100, 2, &[3, 3, 4]),
        ],
    },
    Country {
        iso: "CA",
        cc: "1",
        lang: "en_US",
        currency: "CAD",
        region: Region::English,
        weight: 2,
        blocks: &[
            ("41655501", 100, 2, &[3, 3, 4]),
            ("60455501", 100, 2, &[3, 3, 4]),
        ],
    },
    Country {
        iso: "DE",
        cc: "49",
        lang: "de",
        currency: "EUR",
        region: Region::German,
        weight: 8,
        blocks: &[
            ("3023125", 1000, 3, &[2, 5, 3]),
            ("6990009", 1000, 3, &[2, 5, 3]),
            ("4066969", 1000, 3, &[2, 5, 3]),
            ("2214710", 1000, 3, &[3, 4, 3]),
            ("8999998", 1000, 3, &[2, 5, 3]),
        ],
    },
    Country {
        iso: "FR",
        cc: "33",
        lang: "fr",
        currency: "EUR",
        region: Region::French,
        weight: 7,
        blocks: &[("63998", 10_000, 4, &[1, 2, 2, 2, 2])],
    },
    Country {
        iso: "IN",
        cc: "91",
        lang: "en",
        currency: "INR",
        region: Region::Indian,
        weight: 10,
        blocks: &[("90000", 100_000, 5, &[5, 5])],
    },
    Country {
        iso: "BR",
        cc: "55",
        lang: "pt_BR",
        currency: "BRL",
        region: Region::Portuguese,
        weight: 10,
        blocks: &[
            ("1190000", 10_000, 4, &[2, 5, 4]),
            ("2190000", 10_000, 4, &[2, 5, 4]),
            ("2790000", 10_000, 4, &[2, 5, 4]),
            ("9290000", 10_000, 4, &[2, 5, 4]),
            ("3190000", 10_000, 4, &[2, 5, 4]),
            ("4190000", 10_000, 4, &[2, 5, 4]),
            ("5190000", 10_000, 4, &[2, 5, 4]),
            ("6190000", 10_000, 4, &[2, 5, 4]),
            ("7190000", 10_000, 4, &[2, 5, 4]),
            ("8590000", 10_000, 4, &[2, 5, 4]),
        ],
    },
    Country {
        iso: "MX",
        cc: "52",
        lang: "es_MX",
        currency: "MXN",
        region: Region::Spanish,
        weight: 6,
        blocks: &[
            ("550000", 10_000, 4, &[2, 4, 4]),
            ("560000", 10_000, 4, &[2, 4, 4]),
            ("330000", 10_000, 4, &[2, 4, 4]),
            ("810000", 10_000, 4, &[2, 4, 4]),
        ],
    },
    Country {
        iso: "ES",
        cc: "34",
        lang: "es",
        currency: "EUR",
        region: Region::Spanish,
        weight: 5,
        blocks: &[("6000", 100_000, 5, &[3, 3, 3])],
    },
    Country {
        iso: "NG",
        cc: "234",
        lang: "en",
        currency: "NGN",
        region: Region::Nigerian,
        weight: 5,
        blocks: &[("803000", 10_000, 4, &[3, 3, 4])],
    },
    Country {
        iso: "ZA",
        cc: "27",
        lang: "en",
        currency: "ZAR",
        region: Region::English,
        weight: 4,
        blocks: &[("82000", 10_000, 4, &[2, 3, 4])],
    },
    Country {
        iso: "ID",
        cc: "62",
        lang: "id",
        currency: "IDR",
        region: Region::Indonesian,
        weight: 7,
        blocks: &[("8120000", 10_000, 4, &[3, 4, 4])],
    },
];
