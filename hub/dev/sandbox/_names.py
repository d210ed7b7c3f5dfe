"""Norwegian given names, family names, places and preschool section names for the sandbox."""

GIRLS = (
    "Nora", "Emma", "Ingrid", "Sofie", "Olivia", "Sara", "Maja", "Åse", "Åsne", "Solveig",
    "Ingeborg", "Sigrid", "Kjærsti", "Bjørg", "Tone", "Kari", "Mari", "Hanne", "Marte", "Siri",
    "Ragnhild", "Astrid", "Liv", "Eldbjørg", "Synnøve", "Tiril", "Frøydis", "Hedda", "Aurora",
    "Thea", "Ylva", "Mathilde", "Amina", "Zofia", "Linnéa", "Grete",
)  # fmt: skip
BOYS = (
    "Ola", "Jakob", "Emil", "Noah", "Filip", "William", "Lucas", "Henrik", "Magnus", "Håkon",
    "Kåre", "Pål", "Øystein", "Ørjan", "Bjørn", "Jørgen", "Åsmund", "Ådne", "Sølve", "Tormod",
    "Torbjørn", "Sindre", "Eirik", "Even", "Trygve", "Vegard", "Knut", "Lars", "Arne", "Sverre",
    "Aksel", "Iver", "Yusuf", "Mohammed", "Oskar", "André",
)  # fmt: skip
FAMILY = (
    "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
    "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen", "Dahl",
    "Jørgensen", "Halvorsen", "Henriksen", "Lund", "Sørensen", "Jakobsen", "Moen", "Iversen",
    "Strand", "Solberg", "Eide", "Knutsen", "Bakken", "Lie", "Amundsen", "Nguyen", "Lunde",
    "Solheim", "Nygård", "Bakke", "Holm", "Lien", "Hauge", "Sæther", "Aas", "Myhre", "Ahmed",
    "Haugland", "Berge", "Løken", "Ødegård", "Bråthen", "Sætre", "Ås", "Kvåle", "Dæhlie",
    "Strøm", "Sørli", "Nærland", "Østby", "Hovland", "Våge", "Tveit", "Røed", "Bjørnstad",
    "Grønli", "Fjær", "Kjær", "Søvik", "Aasen", "Mæland", "Hætta", "Kowalski", "Ali",
)  # fmt: skip
PLACES = (
    "Lade", "Tiller", "Byåsen", "Flatåsen", "Heimdal", "Kattem", "Hallset", "Ranheim", "Strinda",
    "Rosenborg", "Møllenberg", "Ila", "Ørmelen", "Sverresborg", "Åsvang", "Bjørndalen", "Hårstad",
    "Nardo", "Steindal", "Breidablikk", "Åsheim", "Sjetne", "Sæterbakken", "Kløfta", "Solbakken",
    "Fjellheim", "Vikåsen", "Lysaker", "Høvik", "Bekkestua", "Eikeli", "Haslum", "Bryn",
    "Øraker", "Hosle", "Nesøya", "Skui", "Hundsund", "Tanum", "Levre", "Gjettum", "Stabekk",
    "Grindaker", "Evje", "Bøler", "Tåsen", "Kjelsås", "Grorud", "Løren", "Økern", "Sagene",
    "Voksen", "Røa", "Hovseter", "Lindeberg", "Nordstrand", "Ljan", "Hauketo", "Bjerke",
    "Linderud", "Veitvet", "Stovner", "Haugerud", "Trosterud", "Mortensrud", "Holmlia", "Teie",
    "Torød", "Vestskogen", "Tjøme", "Hvasser", "Sandåker", "Fagerlia", "Granåsen", "Kvitsund",
)  # fmt: skip
PLACE_PREFIXES = ("", "Øvre ", "Nedre ", "Nordre ", "Søndre ", "Vestre ", "Østre ")
SECTIONS = (
    "Blåklokka", "Solsikken", "Ekornet", "Maurtua", "Bjørnehiet", "Humla", "Måkeredet",
    "Tyttebæret", "Løvetann", "Kråkeslottet", "Revehiet", "Marihøna", "Sommerfuglen",
    "Trollskogen", "Regnbuen", "Stjerna", "Elgen", "Hakkespetten",
)  # fmt: skip
