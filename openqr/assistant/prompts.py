"""The assistant's prompts: short instructions a person picks in their assistant, each saying which
of our tools to call, with which arguments, and what to show back.

Tools are written as calls, `create_code(destination="...")`, with the argument names of the tool
(tests/assistant check every call names a real tool and real arguments). A person's arguments are
quoted as JSON strings, so nothing they type can end the quote.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..api.params import days_arg
from ..errors import ValidationError
from ..scans import analytics

MAX_ARGUMENT_CHARS = 20_000


@dataclass(frozen=True)
class Argument:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Prompt:
    """A prompt: what `prompts/list` shows, and the text it gives for a person's arguments."""

    name: str
    title: str
    description: str
    arguments: tuple[Argument, ...]
    text: Callable[[Mapping[str, str]], str]


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _steps(task: str, *steps: str | None) -> str:
    """The task, then its steps numbered (a None step is left out)."""
    kept = [step for step in steps if step]
    return "\n".join([task, *(f"{n}. {step}" for n, step in enumerate(kept, 1))])


def _create_tracked(args: Mapping[str, str]) -> str:
    label = f", label={_q(args['label'])}" if args.get("label") else ""
    return _steps(
        f"Make an editable, tracked QR code that sends people to {_q(args['destination'])}.",
        f"Call create_code(destination={_q(args['destination'])}{label}). If it is refused, tell me the "
        "message and what to change (private, local and non-http addresses are never accepted).",
        'Call render_qr(id="<the new code\'s id>", format="png", size=1024) and show me the image and '
        "the short URL: that is what goes on print.",
        "Tell me that update_code(id, destination) changes where the code goes without reprinting, and "
        "that get_scans(id, days=30) shows how often it is scanned.",
    )


def _bulk_for_print(args: Mapping[str, str]) -> str:
    folder = args.get("folder")
    return _steps(
        f"Make one printable QR code for each of these destinations:\n{args['destinations']}\n",
        f"Call list_folders() and take the id of the folder named {_q(folder)}; if there is none, call "
        f"create_folder(name={_q(folder)}). Give that id as folder_id to every code below."
        if folder
        else None,
        'Call bulk_create_codes(codes=[{"destination": "...", "label": "..."}, ...]) once with all of '
        "them (at most 200 a call, all or nothing), each labelled with where it will be printed. If it "
        "is refused, the error's details name each bad item by its index: fix or drop those and call "
        "again.",
        'For each new code call render_qr(id="<its id>", format="svg"): a vector image stays sharp at any '
        "print size. Then list every label with its short URL.",
        "Remind me to scan one printed code with a phone before printing the rest.",
    )


def _brand(args: Mapping[str, str]) -> str:
    code = _q(args["id"])
    dark = _q(args["dark"]) if args.get("dark") else "the brand's darkest colour (ask me for it)"
    light = _q(args["light"]) if args.get("light") else '"#ffffff" (or "transparent")'
    return _steps(
        f"Give my QR code {code} our brand's look while keeping it easy to scan.",
        f"Call get_code(id={code}) to see its current style.",
        f'Call update_code(id={code}, style={{"dark": ..., "light": ..., "ecc": "Q", "margin": 4}}) with '
        f"dark {dark} and light {light}. Dark must be darker than light with a contrast of at least 3:1; "
        "if the server refuses the pair it says why: choose a darker dark and try again. "
        '"ecc": "Q" keeps a worn or dirty print readable.',
        f'Call render_qr(id={code}, format="png", size=1024) and show me the result.',
    )


def _scan_report(args: Mapping[str, str]) -> str:
    days = days_arg({"days": args["days"]} if args.get("days") else {})
    if args.get("id"):
        fetch = f"Call get_scans(id={_q(args['id'])}, days={days})."
    else:
        fetch = (
            f"Call get_account_scans(days={days}) for all my codes, and list_codes() to put names to the "
            "slugs in by_code."
        )
    return _steps(
        f"Report how my QR codes were scanned over the last {days} days.",
        fetch,
        "Tell me briefly: the total and the trend (daily), the top countries (by_country), devices "
        "(by_device) and referrers (by_referrer), the busiest hours and weekdays (by_hour, by_weekday), "
        "and unique visitors where window_unique is given.",
        "End with one or two concrete suggestions, such as a code with no scans to check on, or the time "
        "of day a promotion would reach the most people.",
    )


PROMPTS: tuple[Prompt, ...] = (
    Prompt(
        "create_tracked_qr",
        "Create a tracked QR code",
        "Create an editable QR code for a URL, counting its scans, and show the image to print.",
        (
            Argument("destination", "Where the code should send people: a public http(s) URL.", True),
            Argument("label", "A name for the code, for your own lists."),
        ),
        _create_tracked,
    ),
    Prompt(
        "bulk_qr_for_print",
        "QR codes for print, in bulk",
        "Create one editable code for each of many URLs in one go, optionally in a folder, as vector "
        "images for print.",
        (
            Argument("destinations", "The URLs, one a line (a label after a comma if you like).", True),
            Argument("folder", "The name of a folder to file them in (made if it does not exist)."),
        ),
        _bulk_for_print,
    ),
    Prompt(
        "brand_a_qr",
        "Brand a QR code",
        "Give one of your codes your brand's colours, checked to stay scannable, and show the result.",
        (
            Argument("id", "The code's id, as list_codes shows it.", True),
            Argument("dark", "The colour of the modules, #rrggbb."),
            Argument("light", 'The background, #rrggbb or "transparent".'),
        ),
        _brand,
    ),
    Prompt(
        "qr_scan_report",
        "QR scan report",
        "A short report of one code's scans, or all your codes', with suggestions.",
        (
            Argument("id", "One code's id; leave it out for all your codes."),
            Argument(
                "days",
                f"How many days back: {analytics.MIN_DAYS} to {analytics.MAX_DAYS} "
                f"(default {analytics.DEFAULT_DAYS}).",
            ),
        ),
        _scan_report,
    ),
)
BY_NAME = {prompt.name: prompt for prompt in PROMPTS}


def render(name: str, arguments: Mapping[str, object] | None) -> str:
    """The prompt's text for these arguments; raises ValidationError naming a bad argument."""
    prompt = BY_NAME[name]
    args = dict(arguments or {})
    allowed = {argument.name for argument in prompt.arguments}
    for key, value in args.items():
        if key not in allowed:
            raise ValidationError(
                f"Unknown argument: {key}; {name} takes {', '.join(sorted(allowed))}.", field=key
            )
        if not isinstance(value, str) or len(value) > MAX_ARGUMENT_CHARS:
            raise ValidationError(
                f"'{key}' must be text of at most {MAX_ARGUMENT_CHARS} characters.", field=key
            )
    for argument in prompt.arguments:
        if argument.required and not (args.get(argument.name) or "").strip():
            raise ValidationError(
                f"'{argument.name}' is required: {argument.description}", field=argument.name
            )
    return prompt.text({key: value.strip() for key, value in args.items()})
