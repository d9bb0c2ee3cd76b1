"""/aide speaks to staff about what they do here, by role."""

from __future__ import annotations

from tests.e2e.harness import School
from tests.e2e.test_intentions_journey import prepare


async def test_staff_get_their_own_help(school: School) -> None:
    emu = school.emulator
    invites = await prepare(school)
    await school.start_bot()
    pp = emu.add_user("Claire")
    await emu.send_text_and_wait(
        pp.id, f"/start {invites['claire.leroy@example.org']['code']}", expect=1
    )
    help_pp = (await emu.send_text_and_wait(pp.id, "/aide", expect=1))[-1].text
    assert "avis du conseil de classe" in help_pp and "Enregistrer" in help_pp
    chef = emu.add_user("Sophie")
    await emu.send_text_and_wait(chef.id, f"/start {invites['chef@example.org']['code']}", expect=1)
    help_chef = (await emu.send_text_and_wait(chef.id, "/aide", expect=1))[-1].text
    assert "décisions d'orientation" in help_chef and "appels" in help_chef
    parent = emu.add_user("Anne")
    await emu.send_text_and_wait(
        parent.id, f"/start {invites['anne.martin@example.org']['code']}", expect=2
    )
    help_parent = (await emu.send_text_and_wait(parent.id, "/aide", expect=1))[-1].text
    assert "Aide (1/2)" in help_parent
