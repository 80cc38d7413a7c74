//! Word lists the simulator draws its message texts, names and template parameters from: first
//! and last names per region, products, coupon codes, emoji, store locations, brands. Plain text on
//! purpose, so that a later byte scan of a database can look for any of them. Pure data and one
//! picking helper; nothing here draws numbers or builds JSON.

use rand::Rng;

/// Picks one element of a non-empty list.
pub fn pick<T: Copy, R: Rng>(rng: &mut R, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

/// Which name list a country's subjects draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    English,
    German,
    French,
    Spanish,
    Portuguese,
    Indian,
    Indonesian,
    Nigerian,
}

impl Region {
    pub fn first_names(self) -> &'static [&'static str] {
        match self {
            Region::English => &[
                "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack",
                "Sophie", "Ethan", "Grace", "Liam", "Chloe", "Mason", "Zoe", "Thandiwe", "Pieter",
            ],
            Region::German => &[
                "Lukas", "Hannah", "Finn", "Lea", "Jonas", "Emilia", "Felix", "Clara", "Paul",
                "Greta",
            ],
            Region::French => &[
                "Hugo", "Louise", "Gabriel", "Chloé", "Léo", "Manon", "Arthur", "Camille", "Jules",
                "Inès",
            ],
            Region::Spanish => &[
                "Mateo",
                "Lucía",
                "Santiago",
                "Sofía",
                "Diego",
                "Valentina",
                "Alejandro",
                "Camila",
                "Javier",
                "Ximena",
            ],
            Region::Portuguese => &[
                "João", "Ana", "Pedro", "Beatriz", "Rafael", "Larissa", "Gustavo", "Mariana",
                "Thiago", "Juliana",
            ],
            Region::Indian => &[
                "Aarav", "Priya", "Vivaan", "Ananya", "Arjun", "Diya", "Rohan", "Kavya", "Ishaan",
                "Meera",
            ],
            Region::Indonesian => &[
                "Budi", "Siti", "Agus", "Dewi", "Rizky", "Putri", "Andi", "Ayu", "Fajar", "Intan",
            ],
            Region::Nigerian => &[
                "Chinedu",
                "Ngozi",
                "Emeka",
                "Aisha",
                "Tunde",
                "Funmilayo",
                "Ifeanyi",
                "Zainab",
                "Segun",
                "Amara",
            ],
        }
    }

    pub fn last_names(self) -> &'static [&'static str] {
        match self {
            Region::English => &[
                "Smith",
                "Jones",
                "Taylor",
                "Brown",
                "Williams",
                "Wilson",
                "Johnson",
                "Davies",
                "Evans",
                "Nelson",
                "Walker",
                "Dlamini",
                "Naidoo",
                "van der Merwe",
            ],
            Region::German => &[
                "Müller",
                "Schmidt",
                "Schneider",
                "Fischer",
                "Weber",
                "Becker",
                "Hoffmann",
                "Wagner",
            ],
            Region::French => &[
                "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
            ],
            Region::Spanish => &[
                "García",
                "Hernández",
                "López",
                "Martínez",
                "González",
                "Rodríguez",
                "Pérez",
                "Sánchez",
            ],
            Region::Portuguese => &[
                "Silva",
                "Santos",
                "Oliveira",
                "Souza",
                "Pereira",
                "Costa",
                "Rodrigues",
                "Almeida",
            ],
            Region::Indian => &[
                "Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Singh", "Mehta",
            ],
            Region::Indonesian => &[
                "Santoso", "Wijaya", "Saputra", "Hidayat", "Kusuma", "Pratama", "Lestari",
                "Nugroho",
            ],
            Region::Nigerian => &[
                "Okafor", "Adeyemi", "Eze", "Bello", "Okonkwo", "Balogun", "Nwosu", "Abubakar",
            ],
        }
    }
}

/// Brands of the 1-3 simulated businesses, with the slug used in their URLs.
pub const BRANDS: &[(&str, &str)] = &[
    ("Lucky Shrub", "luckyshrub"),
    ("Northwind Outfitters", "northwind"),
    ("Contoso Pharmacy", "contoso"),
    ("Fabrikam Home", "fabrikam"),
    ("Tailspin Travel", "tailspin"),
];

pub const PRODUCTS: &[&str] = &[
    "succulent starter kit",
    "linen shirt",
    "trail running shoes",
    "ceramic planter",
    "wireless earbuds",
    "organic coffee beans",
    "yoga mat",
    "rain jacket",
    "bamboo bed sheets",
    "cast iron skillet",
    "vitamin D3 drops",
    "city break voucher",
];

pub const COUPONS: &[&str] = &[
    "SPRING25",
    "WELCOME10",
    "FREESHIP",
    "SUMMER30",
    "VIP15",
    "BDAY20",
    "COMEBACK12",
    "FLASH40",
];

pub const EMOJI: &[&str] = &["👍", "😀", "❤️", "🙏", "😮", "🎉", "😂", "👌"];

pub const TIME_SLOTS: &[&str] = &[
    "8am-12pm",
    "12pm-4pm",
    "4pm-8pm",
    "9:00-11:00",
    "14:00-16:00",
];

pub const STREETS: &[&str] = &[
    "12 Orchard Lane",
    "48 Station Road",
    "7 Mill Street",
    "221 Harbour View",
    "15 Kastanienallee",
    "9 Rue des Lilas",
    "31 Calle del Prado",
    "104 Rua das Flores",
];

/// Store locations for location sends and template location headers: name, address, lat, long.
pub const STORES: &[(&str, &str, f64, f64)] = &[
    (
        "Flagship Store",
        "1 Hacker Way, Menlo Park, CA 94025",
        37.483307,
        -122.148981,
    ),
    (
        "Covent Garden Store",
        "14 King Street, London WC2E 8HN",
        51.511795,
        -0.124343,
    ),
    (
        "Mitte Pickup Point",
        "Rosenthaler Str. 40, 10178 Berlin",
        52.526539,
        13.401768,
    ),
    (
        "Marais Boutique",
        "22 Rue Vieille du Temple, 75004 Paris",
        48.857210,
        2.358910,
    ),
    (
        "Paulista Showroom",
        "Av. Paulista 1000, São Paulo - SP",
        -23.564030,
        -46.652270,
    ),
    (
        "Roma Norte Store",
        "Calle Colima 150, Ciudad de México",
        19.418610,
        -99.162510,
    ),
    (
        "Bandra Outlet",
        "Hill Road 25, Bandra West, Mumbai 400050",
        19.054444,
        72.833333,
    ),
    (
        "Victoria Island Hub",
        "Adeola Odeku St 12, Lagos",
        6.428055,
        3.421944,
    ),
];

/// Free-text customer messages; `{order}`, `{product}`, `{street}`, `{email}` and `{phone}` are
/// filled in by the inbound builder.
pub const INBOUND_TEXTS: &[&str] = &[
    "Thanks!",
    "Thank you so much 🙏",
    "Where is my order {order}?",
    "Can you deliver to {street} instead?",
    "Is the {product} still in stock?",
    "STOP",
    "My email is {email}, please send the receipt there",
    "Please call me back on {phone}",
    "The {product} arrived damaged, can I get a refund for order {order}?",
    "What time do you open tomorrow?",
    "ok",
    "Yes please",
];

/// Business texts for free-form text sends and replies; same placeholders plus `{first}`,
/// `{brand}` and `{url}`.
pub const OUTBOUND_TEXTS: &[&str] = &[
    "Hi {first}, your order {order} has shipped and should arrive within 2-3 days.",
    "You're welcome, {first}!",
    "Hi {first}, we have rescheduled your delivery to {street}.",
    "Sorry about that, {first}. A refund for order {order} is on its way.",
    "As requested, here is the link to your order: {url}",
    "Hi {first}, the {product} is back in stock: {url}",
    "Thanks for contacting {brand}. An agent will reply shortly.",
    "Our opening hours are 9am to 6pm, Monday to Saturday.",
];

/// Captions of photos customers send.
pub const IMAGE_CAPTIONS: &[&str] = &[
    "Here is a photo of the {product}",
    "This is what arrived for order {order}",
    "Is this the right one?",
];

pub const CAPTIONS: &[&str] = &[
    "Your new {product}",
    "Here is the photo you asked for, {first}",
    "Order {order}: packed and ready",
    "Care guide for your {product}",
    "",
];

pub const LIST_ROWS: &[(&str, &str, &str)] = &[
    (
        "priority_express",
        "Priority Mail Express",
        "Next Day to 2 Days",
    ),
    ("priority_mail", "Priority Mail", "1-3 Days"),
    ("standard", "Standard Delivery", "3-5 Days"),
    ("click_collect", "Click & Collect", "Pick up in store"),
];

pub const BUTTON_SETS: &[&[(&str, &str)]] = &[
    &[("change-button", "Change"), ("cancel-button", "Cancel")],
    &[("confirm", "Yes, confirm"), ("decline", "No, thanks")],
    &[
        ("track", "Track order"),
        ("agent", "Talk to us"),
        ("faq", "FAQ"),
    ],
];

/// The values one message's texts are filled with.
pub struct Vars<'a> {
    pub first: &'a str,
    pub brand: &'a str,
    pub order: String,
    pub product: &'static str,
    pub street: &'static str,
    pub email: String,
    pub phone: String,
    pub url: String,
}

/// Replaces `{first}`, `{brand}`, `{order}`, `{product}`, `{street}`, `{email}`, `{phone}` and
/// `{url}` in `text`.
pub fn fill(text: &str, v: &Vars<'_>) -> String {
    if !text.contains('{') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("placeholders are closed");
        out.push_str(match &rest[open + 1..close] {
            "first" => v.first,
            "brand" => v.brand,
            "order" => &v.order,
            "product" => v.product,
            "street" => v.street,
            "email" => &v.email,
            "phone" => &v.phone,
            "url" => &v.url,
            other => unreachable!("unknown placeholder {other}"),
        });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Lower-case ASCII letters of a name, accents folded (`Chloé` → `chloe`), for e-mail addresses.
pub fn ascii_slug(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let c = match c {
                'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'í' | 'ì' | 'î' | 'ï' => 'i',
                'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
                'ú' | 'ù' | 'û' | 'ü' => 'u',
                'ç' => 'c',
                'ñ' => 'n',
                c => c.to_ascii_lowercase(),
            };
            c.is_ascii_lowercase().then_some(c)
        })
        .collect()
}
