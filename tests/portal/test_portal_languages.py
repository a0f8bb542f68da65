"""The portal in French and Swedish: pages chosen by the browser's languages or the
switch, their words and money in the language (amounts exact), and the influencer's
mails in the language they last used the portal in (English until one is known)."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.portal.story import build
from tests.support.app import Api
from tests.support.dashboard_session import csrf
from tests.support.mail import Inbox, link_in, path_of
from tests.support.portal import invite_path

pytestmark = pytest.mark.frozen_at("2026-09-01T09:00:00Z")
NNBSP, NBSP = "\u202f", "\xa0"


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _browser(api: Api, accept: str | None = None) -> FlaskClient:
    """A browser of its own, sending ``accept`` as its languages with every request."""
    client = api.app.test_client()
    if accept:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = accept
    return client


def _sign_in(api: Api, influencer_id: str, accept: str | None = None) -> FlaskClient:
    """A browser of its own (its languages ``accept``), signed in as the influencer."""
    client = _browser(api, accept)
    path = invite_path(api, influencer_id)
    page = client.get(path)
    r = client.post(path, data={"csrf": csrf(page.text)})
    assert r.status_code == 303, r.text
    return client


def _choose(client: FlaskClient, lang: str, on: str = "/portal/") -> None:
    page = client.get(on)
    r = client.post("/portal/language", data={"csrf": csrf(page.text), "lang": lang, "next": on})
    assert r.status_code == 303 and r.headers["Location"] == on


def _anna_with_an_order(api: Api, orders: int = 1) -> str:
    """anna, 10 % of each order in "autumn", with ``orders`` orders of 12,345.00 EUR
    today: a pending commission of 1,234.50 EUR each."""
    campaign = api.create_campaign("autumn", hold_days=14)
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    for n in range(orders):
        body = {
            "type": "order",
            "order_id": f"A-{n}",
            "occurred_at": "2026-09-01T08:00:00Z",
            "currency": "EUR",
            "subtotal": "12345.00",
            "promo_codes": ["ANNA15"],
        }
        assert api.webhook(body).status_code in (200, 201)
    return str(anna["id"])


def test_the_browsers_language_writes_the_home_page_in_french(api: Api) -> None:
    anna = _sign_in(api, _anna_with_an_order(api), accept="fr-FR,fr;q=0.9,en;q=0.5")
    page = anna.get("/portal/").text
    words = _text(page)
    assert '<html lang="fr">' in page
    assert "<h1>Espace partenaire</h1>" in page
    assert "Connecté en tant que @anna" in words
    assert f"1{NNBSP}234,50{NBSP}€" in page  # pending, from 123450 cents exactly
    assert "Vos 7 derniers jours" in words
    assert "1 commande" in words and "1 commandes" not in words
    assert 'id="nav-commissions"' in page and ">Commissions<" in page
    assert ">Se déconnecter<" in page


def test_the_switch_writes_the_pages_in_swedish_and_counts_in_the_plural(api: Api) -> None:
    anna = _sign_in(api, _anna_with_an_order(api, orders=2))
    assert "<h1>Partner portal</h1>" in anna.get("/portal/").text  # no language asked for
    _choose(anna, "sv")
    home = anna.get("/portal/", headers={"Accept-Language": "fr"}).text  # the choice wins
    words = _text(home)
    assert '<html lang="sv">' in home
    assert "<h1>Partnerportal</h1>" in home
    assert "Inloggad som @anna" in words
    assert f"2{NBSP}469,00{NBSP}€" in home  # two commissions of 1 234,50
    assert "2 beställningar" in words
    commissions = _text(anna.get("/portal/commissions").text)
    assert "Dina provisioner" in commissions
    assert "provision på en beställning" in commissions
    assert f"1{NBSP}234,50{NBSP}€" in anna.get("/portal/commissions").text
    refused = anna.get("/portal/results?start=yesterday")
    assert refused.status_code == 400
    assert "Ange dagarna som år-månad-dag, till exempel 2026-09-30." in _text(refused.text)


def test_a_campaigns_terms_read_as_sentences_in_french(api: Api) -> None:
    campaign = api.create_campaign("autumn", hold_days=1)
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    client = _sign_in(api, anna["id"], accept="fr")
    terms = _text(client.get(f"/portal/campaigns/{campaign['id']}").text)
    assert "du montant de chaque commande après remises" in terms
    assert "1 jour : une commission reste en attente" in terms  # the singular
    assert "30 jours : une commande passée dans ce délai" in terms  # the plural


def _body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _ask_new_link(client: FlaskClient, email: str) -> None:
    page = client.get("/portal/new-link")
    r = client.post("/portal/new-link", data={"csrf": csrf(page.text), "email": email})
    assert r.status_code == 200


def test_mails_follow_the_language_the_influencer_last_used(
    mailing_api: Api, smtp_server: Inbox
) -> None:
    anna = mailing_api.create_influencer("anna")
    # No language known yet: the invitation is in English.
    path = invite_path(mailing_api, anna["id"])
    (first,) = smtp_server.wait(1)
    assert first["Subject"] == "Your sign-in link to the partner portal"
    assert _body(first).startswith("Hello Anna,")

    # Signed in from a French browser: a new link is mailed in French.
    client = _browser(mailing_api, "fr")
    page = client.get(path)
    r = client.post(path, data={"csrf": csrf(page.text)})
    assert r.status_code == 303
    _ask_new_link(mailing_api.app.test_client(), "anna@example.com")  # any browser asks
    second = smtp_server.wait(2)[1]
    assert second["Subject"] == "Votre lien de connexion à l'espace partenaire"
    body = _body(second)
    assert body.startswith("Bonjour Anna,")
    assert "Le lien fonctionne une fois, jusqu'au 2026-10-08 09:00 UTC." in body
    assert path_of(link_in(second)).startswith("/portal/sign-in/")

    # Swedish chosen on a page: the payout notice is in Swedish.
    _choose(client, "sv", on="/portal/payout")
    page = client.get("/portal/payout")
    r = client.post("/portal/payout", data={"csrf": csrf(page.text), "email": "new@anna.example"})
    assert r.status_code == 303
    notice = smtp_server.wait(3)[2]
    assert notice["Subject"] == "En ändring av din e-postadress för utbetalning har begärts"
    assert _body(notice).startswith("Hej Anna!")
    assert "ska gå till new@anna.example" in _body(notice)


def test_a_language_the_portal_does_not_speak_is_refused_and_mails_stay_as_they_were(
    api: Api,
) -> None:
    client = _sign_in(api, api.create_influencer("anna")["id"], accept="sv")
    page = client.get("/portal/")
    r = client.post("/portal/language", data={"csrf": csrf(page.text), "lang": "de"})
    assert r.status_code == 400
    assert "Välj ett av de erbjudna språken." in _text(r.text)
    assert '<html lang="sv">' in client.get("/portal/").text


@pytest.mark.parametrize("signed_in", [False, True])
def test_an_address_that_is_no_page_says_so_in_the_readers_language(
    api: Api, signed_in: bool
) -> None:
    """A mistyped or outdated link under /portal/ is the portal's page in words, never
    the API's JSON, whatever the method."""
    anna = _anna_with_an_order(api)
    client = _sign_in(api, anna, "sv") if signed_in else _browser(api, "sv")
    for method, path in (("GET", "/portal/no-such-page"), ("POST", "/portal/links/x/y")):
        r = client.open(path, method=method)
        assert r.status_code == 404 and r.content_type.startswith("text/html"), (method, path)
        assert '<html lang="sv">' in r.text
        assert "Det finns inget här, eller så är det inte ditt att se." in _text(r.text)
    with client.get("/portal/static/portal.js") as script:  # files are still served
        assert script.status_code == 200
    wrong = client.get("/portal/sign-out")  # a page's address asked the wrong way
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "OPTIONS, POST"
    assert "Den här sidan kan inte användas så." in _text(wrong.text)


@pytest.mark.parametrize(
    ("accept", "taken_out", "brought_in"),
    [
        ("en", "negative balance carried forward to 2026-11", "carried forward from 2026-10"),
        ("fr", "solde négatif reporté sur 2026-11", "solde négatif reporté de 2026-10"),
        ("sv", "negativt saldo överfört till 2026-11", "negativt saldo överfört från 2026-10"),
    ],
)
def test_a_carried_balances_lines_give_their_reason_in_the_readers_language(
    api: Api, frozen: Any, accept: str, taken_out: str, brought_in: str
) -> None:
    """A close writes the reason of the two lines that carry a negative balance; the
    portal writes it in the page's language (the ledger keeps the English)."""
    story = build(api, frozen)  # October closed negative for anna: carried into November
    anna = _sign_in(api, story.anna.id, accept)
    october = _text(anna.get("/portal/statements/2026-10").text)
    assert taken_out in october
    commissions = _text(anna.get("/portal/commissions").text)
    assert brought_in in commissions and taken_out in commissions
    if accept != "en":
        assert "negative balance" not in october + commissions
