"""Surplus offers and shortage requests: a matching pair becomes a transfer both managers confirm."""

from __future__ import annotations

from tests.inventory import headers_for, ledger, new_site, on_hand, receive_lot
from tests.journeys import document, new_product, new_recipient


def listing(board: dict, kind: str, listing_id: int) -> dict:
    return next(item for item in board[kind] if item["id"] == listing_id)


async def test_an_offer_and_a_request_become_a_transfer_both_managers_confirm(api, sessions):
    surplus, short = await new_site(sessions), await new_site(sessions, scheduling=False)
    giver, taker = await headers_for(api, surplus.manager), await headers_for(api, short.manager)
    product = await new_product(sessions)
    lot = await receive_lot(api, giver, product, 10)

    too_much = await api.post("/marketplace/offers", json={"lot_id": lot["id"], "doses": 11}, headers=giver)
    assert too_much.status_code == 409
    offered = await api.post("/marketplace/offers", json={"lot_id": lot["id"], "doses": 6}, headers=giver)
    assert offered.status_code == 201, offered.text
    offer = offered.json()
    assert offer["transfer"] is None and offer["listing"]["status"] == "open"

    # The other location sees the offer; its request matches it at once.
    board = (await api.get(f"/marketplace?product_code={product}", headers=taker)).json()
    assert listing(board, "offers", offer["listing"]["id"])["location_code"] == surplus.code
    requested = await api.post(
        "/marketplace/requests", json={"product_code": product, "doses": 4}, headers=taker
    )
    assert requested.status_code == 201, requested.text
    transfer = requested.json()["transfer"]
    assert transfer is not None and transfer["quantity"] == 4 and transfer["status"] == "proposed"
    assert transfer["from_location_id"] == surplus.id and transfer["to_location_id"] == short.id
    assert not transfer["sender_confirmed_by"] and not transfer["receiver_confirmed_by"]
    board = (await api.get(f"/marketplace?product_code={product}", headers=giver)).json()
    assert listing(board, "offers", offer["listing"]["id"])["status"] == "matched"
    assert listing(board, "offers", offer["listing"]["id"])["transfer_id"] == transfer["id"]

    # The sender's confirmation alone moves nothing.
    first = await api.post(f"/transfers/{transfer['id']}/confirm", json={}, headers=giver)
    assert first.status_code == 200 and first.json()["status"] == "proposed"
    assert await on_hand(api, giver, lot["id"]) == 10
    withdraw = await api.post(
        f"/marketplace/offers/{offer['listing']['id']}/withdraw", json={}, headers=giver
    )
    assert withdraw.status_code == 409

    second = await api.post(f"/transfers/{transfer['id']}/confirm", json={}, headers=taker)
    assert second.status_code == 200 and second.json()["status"] == "completed", second.text
    received_lot = second.json()["received_lot_id"]
    assert await on_hand(api, giver, lot["id"]) == 6
    assert await on_hand(api, taker, received_lot) == 4
    assert await ledger(sessions, lot["id"]) == (6, 6) and await ledger(sessions, received_lot) == (4, 4)
    for headers, kind in ((giver, "transfer_out"), (taker, "transfer_in")):
        lot_id = lot["id"] if headers is giver else received_lot
        events = (await api.get(f"/lots/{lot_id}/events", headers=headers)).json()
        assert [(e["kind"], e["transfer_id"]) for e in events if e["transfer_id"]] == [(kind, transfer["id"])]
        assert (await api.get("/inventory/audit", headers=headers)).json()["consistent"]
    # Settled listings stay on their own location's board only.
    board = (await api.get(f"/marketplace?product_code={product}", headers=giver)).json()
    assert listing(board, "offers", offer["listing"]["id"])["status"] == "fulfilled"
    board = (await api.get(f"/marketplace?product_code={product}", headers=taker)).json()
    assert listing(board, "requests", requested.json()["listing"]["id"])["status"] == "fulfilled"
    assert all(item["id"] != offer["listing"]["id"] for item in board["offers"])

    # The received doses are the receiving location's own: it documents from them.
    recipient = await new_recipient(sessions)
    given = await document(
        api, await headers_for(api, short.provider), recipient.id, product=product, lot=lot["lot_number"]
    )
    assert given.status_code == 201, given.text
    assert await on_hand(api, taker, received_lot) == 3


async def test_a_cancelled_marketplace_transfer_moves_nothing_and_withdraws_both_listings(api, sessions):
    surplus, short = await new_site(sessions), await new_site(sessions)
    giver, taker = await headers_for(api, surplus.manager), await headers_for(api, short.manager)
    product = await new_product(sessions)
    requested = await api.post(
        "/marketplace/requests", json={"product_code": product, "doses": 5}, headers=taker
    )
    assert requested.json()["transfer"] is None
    lot = await receive_lot(api, giver, product, 3)
    offered = await api.post("/marketplace/offers", json={"lot_id": lot["id"], "doses": 3}, headers=giver)
    transfer = offered.json()["transfer"]
    assert transfer["quantity"] == 3 and transfer["to_location_id"] == short.id

    outsider = await headers_for(api, (await new_site(sessions)).manager)
    assert (
        await api.post(f"/transfers/{transfer['id']}/confirm", json={}, headers=outsider)
    ).status_code == 404

    cancelled = await api.post(f"/transfers/{transfer['id']}/cancel", json={}, headers=taker)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    late = await api.post(f"/transfers/{transfer['id']}/confirm", json={}, headers=giver)
    assert late.status_code == 409
    assert await on_hand(api, giver, lot["id"]) == 3
    board = (await api.get(f"/marketplace?product_code={product}", headers=giver)).json()
    assert listing(board, "offers", offered.json()["listing"]["id"])["status"] == "withdrawn"
    assert all(item["id"] != requested.json()["listing"]["id"] for item in board["requests"])
