"""How follow-up figures read in a terminal and on the hub's pages: headline table, labels.

`hub run` prints `headline_table`; the web pages show the same `HEADLINE` measures,
formatted by `format_measure`. A tenant's follow-up page speaks its reader's language
where the hub has one for the tenant's country (`page_labels`: Danish for DK, English
otherwise). Extract files keep their English column names and values everywhere: they
are the records' field names, the same on the topics and in the JSON Schemas, so that
one consumer reads every tenant's extracts (docs/followup.md, "Extracts").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.followup.jobs import FollowupResult

#: The measures `hub run` prints per tenant: (measure, column title).
HEADLINE = (
    ("pupils", "pupils"),
    ("pupils_with_device_share", "pupils w/dev"),
    ("devices_per_pupil", "dev/pupil"),
    ("devices_per_staff", "dev/staff"),
    ("preschool_children_per_shared_device", "children/dev"),
    ("exam_ready_share", "exam-ready"),
    ("competence_information_security_within_share", "infosec"),
    ("devices_past_life_cycle_share", "old dev"),
    ("licences_used_share", "lic used"),
    ("unmatched_identities", "unmatched"),
)


def format_measure(value: float | None, measure: str) -> str:
    """A headline figure for a terminal: counts as integers, shares as percentages."""
    if value is None:
        return "-"
    if measure.endswith("_share"):
        return f"{value * 100:.1f}%"
    if measure in ("pupils", "staff", "children", "unmatched_identities", "school_devices"):
        return f"{int(value):,}"
    return f"{value:.2f}"


def headline_table(results: Sequence[FollowupResult]) -> list[str]:
    """The per-tenant headline figures as lines of a table."""
    header = f"{'tenant':<14} {'as_of':<10} " + " ".join(f"{t:>12}" for _, t in HEADLINE)
    lines = [header, "-" * len(header)]
    for r in results:
        if r.outcome is None:
            lines.append(f"{r.tenant:<14} {'':<10} {r.status}: {r.error}")
            continue
        measures = r.outcome.snapshot.measures
        lines.append(
            f"{r.tenant:<14} {r.outcome.snapshot.as_of.isoformat():<10} "
            + " ".join(f"{format_measure(measures.get(m), m):>12}" for m, _ in HEADLINE)
        )
    return lines


@dataclass(frozen=True)
class PageLabels:
    """The words of a tenant's follow-up page; `{n}` is the minimum cell size."""

    followup_as_of: str = "follow-up as of"
    baseline: str = "Baseline"
    suppressed_note: str = "cells under {n} people are suppressed, as in extracts."
    other_days: str = "Other days:"
    suppressed: str = "suppressed"
    suppressed_title: str = "fewer than {n} people"
    no_people: str = "no people"
    coverage: str = "Device coverage against target"
    population_titles: Mapping[str, str] = field(
        default_factory=lambda: {
            "pupils": "Pupils: personal devices per pupil, per school",
            "staff": "Staff: personal devices per staff member, per unit",
            "preschool": "Preschool: children per shared device, per unit (lower is better)",
        }
    )
    coverage_columns: tuple[str, ...] = (
        "Unit", "Headcount", "Devices", "Shared", "Past life cycle", "Noncompliant",
        "Not seen", "Unassigned", "Unmatched users",
    )  # fmt: skip
    no_coverage: str = "No device coverage rows in this snapshot."
    target: str = "target"
    children_per_device: str = "children/device"
    exam: str = "Digital national tests: exam readiness"
    exam_chart: str = "Exam readiness per school"
    of: str = "of"
    no_exam: str = "No pupils in the exam grades."
    competence: str = "Staff competence by role and area"
    competence_note: str = (
        "Per unit: the share of staff within the requirement where the role must have the "
        "area (<strong>bold</strong>), else the share who completed a course in it."
    )
    unit: str = "Unit"
    no_unit: str = "(no unit)"
    no_competence: str = "No competence rows in this snapshot."
    by_unit: str = "All staff per unit, every role together"
    development: str = "Competence development since the baseline"
    development_note: str = (
        "The completed share of each unit, role and area at the baseline and at each "
        "measurement the policy names, and its change since the baseline."
    )
    development_columns: tuple[str, ...] = (
        "Measured", "Unit", "Role", "Area", "Staff", "Completed", "Baseline", "Change",
    )  # fmt: skip
    skills: str = "Pupils' digital skills per grade"
    skills_columns: tuple[str, ...] = (
        "Grade", "Unit", "Objective", "Pupils", "Assessed", "Meeting the level",
    )  # fmt: skip
    no_skills: str = "No digital-skills results in this snapshot."
    equity: str = "Equity between schools"
    equity_columns: tuple[str, ...] = (
        "Measure", "Units", "Min", "Median", "Max", "Spread", "Range", "Below target",
    )  # fmt: skip
    is_better: Mapping[str, str] = field(
        default_factory=lambda: {"higher": "higher is better", "lower": "lower is better"}
    )
    trend: str = "Trend since the baseline"
    trend_columns: tuple[str, ...] = ("Measure", "Baseline", "Then", "Now", "Change")
    data_quality: str = "Data quality per source"
    data_quality_note: str = (
        "What the figures stand on. People whose identity number failed its checks are "
        "counted, without it; dead letters are from each source's last successful run."
    )
    data_quality_columns: tuple[str, ...] = (
        "Source", "People", "Invalid identifiers", "Dead-lettered", "Unresolved links",
        "Unmatched users",
    )  # fmt: skip
    no_data_quality: str = "No data-quality record in this snapshot."
    equipment: str = "Classroom equipment against the minimum level"
    equipment_note: str = (
        "Per school: the classrooms the equipment register knows, and those with every kind "
        "of equipment the policy's minimum asks for, in use."
    )
    equipment_columns: tuple[str, ...] = (
        "Unit", "Classrooms", "Meeting the minimum", "Share", "Items in use", "Broken",
    )  # fmt: skip
    no_equipment: str = "No classroom equipment in this snapshot."
    support: str = "IT support (FITS) per school"
    support_note: str = (
        "Tickets opened in the policy's period, per 100 pupils and staff; hours from opening "
        "to resolution; the share resolved within the service level."
    )
    support_columns: tuple[str, ...] = (
        "Unit", "Category", "Tickets", "Per 100 users", "Median hours", "90th pct hours",
        "Within service level",
    )  # fmt: skip
    no_support: str = "No support tickets in this snapshot."
    lifecycle: str = "Purchased devices: leasing life cycle and management"
    lifecycle_note: str = (
        "Devices bought through Apple School Manager: ordered longer ago than the policy's "
        "leasing period, and bought but in no device-management service."
    )
    lifecycle_columns: tuple[str, ...] = (
        "Product family", "Purchased", "Past leasing", "Share", "Not managed", "Share",
        "Assigned, not enrolled",
    )  # fmt: skip
    no_lifecycle: str = "No purchased devices in this snapshot."
    licences: str = "Licences and apps: the central purchasing overview"
    licences_note: str = (
        "Per product: licences bought, assigned and available as the source counts them, "
        "the cost where the source gives a price, and who holds them: people in the "
        "directory (used by active people), people no longer in it, shared devices."
    )
    licences_columns: tuple[str, ...] = (
        "Product", "Vendor", "Source", "Bought", "Assigned", "Available", "Cost",
        "Active people", "Left", "Shared devices", "Used by active people",
    )  # fmt: skip
    licence_use: str = "Licences held by active people, per school"
    no_licences: str = "No licence sources in this snapshot."
    #: Display names of roles and competence areas; a value missing here shows as stored.
    roles: Mapping[str, str] = field(default_factory=dict)
    areas: Mapping[str, str] = field(default_factory=dict)

    def role(self, value: str) -> str:
        """A role's display name."""
        return self.roles.get(value, value)

    def area(self, value: str) -> str:
        """A competence area's display name."""
        return self.areas.get(value, value.replace("_", " "))


ENGLISH = PageLabels()

#: A Danish reader's words: the strategy's own terms (lærer, pædagog, leder; it-didaktik,
#: digital dannelse) and Danmarks Statistik's "diskretioneret" for a suppressed cell.
DANISH = replace(
    ENGLISH,
    followup_as_of="opfølgning pr.",
    baseline="Udgangspunkt",
    suppressed_note="celler med under {n} personer er diskretioneret, som i udtrækkene.",
    other_days="Andre dage:",
    suppressed="diskretioneret",
    suppressed_title="færre end {n} personer",
    no_people="ingen personer",
    coverage="Enhedsdækning i forhold til målet",
    population_titles={
        "pupils": "Elever: personlige enheder pr. elev, pr. skole",
        "staff": "Personale: personlige enheder pr. medarbejder, pr. institution",
        "preschool": "Dagtilbud: børn pr. fælles enhed, pr. institution (lavere er bedre)",
    },
    coverage_columns=(
        "Institution", "Antal personer", "Enheder", "Fælles", "Udtjent", "Ikke i orden",
        "Ikke set", "Uden bruger", "Ukendte brugere",
    ),
    no_coverage="Ingen rækker om enhedsdækning i dette øjebliksbillede.",
    target="mål",
    children_per_device="børn/enhed",
    exam="Digitale nationale test: klar til test",
    exam_chart="Klar til test pr. skole",
    of="af",
    no_exam="Ingen elever på testklassetrinnene.",
    competence="Personalets digitale kompetencer efter rolle og område",
    competence_note=(
        "Pr. institution: andelen af personalet inden for kravet, hvor rollen skal have "
        "området (<strong>fed</strong>), ellers andelen, der har gennemført et forløb i det."
    ),
    unit="Institution",
    no_unit="(ingen institution)",
    no_competence="Ingen kompetencerækker i dette øjebliksbillede.",
    by_unit="Alt personale pr. institution, alle roller samlet",
    development="Kompetenceudvikling: udgangspunkt og opfølgning",
    development_note=(
        "Andelen, der har gennemført, pr. institution, rolle og område ved udgangspunktet og "
        "ved hver opfølgende måling i politikken, og ændringen siden udgangspunktet."
    ),
    development_columns=(
        "Målt", "Institution", "Rolle", "Område", "Personale", "Gennemført", "Udgangspunkt",
        "Ændring",
    ),
    skills="Elevernes digitale kompetencer pr. klassetrin",
    skills_columns=("Klassetrin", "Skole", "Mål", "Elever", "Vurderet", "Når niveauet"),
    no_skills="Ingen resultater om digitale kompetencer i dette øjebliksbillede.",
    equity="Lighed mellem skolerne",
    equity_columns=(
        "Mål", "Institutioner", "Min.", "Median", "Maks.", "Spredning", "Interval",
        "Under målet",
    ),
    is_better={"higher": "højere er bedre", "lower": "lavere er bedre"},
    trend="Udvikling siden udgangspunktet",
    trend_columns=("Mål", "Udgangspunkt", "Da", "Nu", "Ændring"),
    data_quality="Datakvalitet pr. kilde",
    data_quality_note=(
        "Hvad tallene bygger på. Personer, hvis CPR-nummer ikke bestod kontrollen, tælles "
        "med uden det; afviste hændelser er fra kildens seneste vellykkede kørsel."
    ),
    data_quality_columns=(
        "Kilde", "Personer", "Ugyldige identifikatorer", "Afviste", "Uløste henvisninger",
        "Ukendte brugere",
    ),
    no_data_quality="Ingen datakvalitetsrække i dette øjebliksbillede.",
    licences="Licenser og apps: det centrale indkøbsoverblik",
    licences_note=(
        "Pr. produkt: licenser købt, tildelt og ledige efter kildens optælling, prisen hvor "
        "kilden oplyser den, og hvem der har dem: personer i brugerkataloget (brugt af "
        "aktive), personer, der ikke længere er der, og fælles enheder."
    ),
    licences_columns=(
        "Produkt", "Leverandør", "Kilde", "Købt", "Tildelt", "Ledige", "Pris", "Aktive",
        "Fratrådt", "Fælles enheder", "Brugt af aktive",
    ),
    licence_use="Licenser hos aktive personer pr. institution",
    no_licences="Ingen licenskilder i dette øjebliksbillede.",
    roles={
        "teacher": "Lærer",
        "preschool_teacher": "Pædagog",
        "school_leader": "Leder",
        "assistant": "Medhjælper",
        "it_pedagogue": "It-vejleder",
        "administrator": "Administrativt personale",
        "staff": "Øvrigt personale",
    },
    areas={
        "digital_didactics": "It-didaktik",
        "learning_platforms": "Læringsplatforme og digitale læremidler",
        "programming_robotics": "Programmering og robotter",
        "programming": "Programmering",
        "robots_3d_printing": "Robotter og 3D-print",
        "digital_citizenship": "Digital dannelse",
        "information_security": "Informationssikkerhed",
    },
)  # fmt: skip

_BY_COUNTRY = {"DK": DANISH}


def page_labels(country: str) -> PageLabels:
    """The words of a follow-up page for a tenant in `country`: Danish for DK, else English."""
    return _BY_COUNTRY.get(country, ENGLISH)
