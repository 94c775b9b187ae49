"""Personal reminders for the shop's back end: a customer's dates, listed, added and removed."""

from __future__ import annotations

import msgspec

from server.api.endpoint import Call, Resource, shop
from server.push.reminders import ReminderIn, ReminderOut

resource = Resource("reminders")
REMINDERS = shop("reminders", "admin", "marketer")


class ReminderList(msgspec.Struct):
    reminders: list[ReminderOut]


@resource.endpoint(
    "POST",
    "/api/v1/customers/{external_id:str}/reminders",
    summary="Remind a customer of a date (yearly or once) at their local time; templates are checked now",
    access=REMINDERS,
    body=ReminderIn,
    response=ReminderOut,
    status=201,
)
async def create_reminder(call: Call) -> ReminderOut:
    return await call.node.reminders.create(call.path["external_id"], call.body)


@resource.endpoint(
    "GET",
    "/api/v1/customers/{external_id:str}/reminders",
    summary="A customer's reminders, the next to fire first",
    access=REMINDERS,
    response=ReminderList,
)
async def list_reminders(call: Call) -> ReminderList:
    return ReminderList(reminders=await call.node.reminders.for_customer(call.path["external_id"]))


@resource.endpoint(
    "DELETE",
    "/api/v1/reminders/{reminder_id:str}",
    summary="Delete a reminder (it fires no more)",
    access=REMINDERS,
)
async def delete_reminder(call: Call) -> None:
    await call.node.reminders.delete(call.path["reminder_id"])
