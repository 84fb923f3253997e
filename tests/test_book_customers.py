import pytest

from book_builders import customer
from riskdesk.book.customers import find_customer, list_customers
from riskdesk.db.engine import session_scope
from riskdesk.errors import InvalidInputError, NotFoundError


def test_find_customer_by_id_tenant_or_name_and_refuse_unknown(engine):
    with session_scope(engine) as s:
        a = customer(s, "Contoso Ltd", pcid="7c1d-tenant")
        b = customer(s, "Fabrikam", tags=["vip", "gpu"])
        customer(s, "Twin")
        customer(s, "Twin")
        assert find_customer(s, str(a.id)).id == a.id
        assert find_customer(s, "7c1d-tenant").id == a.id
        assert find_customer(s, "Fabrikam").id == b.id
        with pytest.raises(NotFoundError, match="unknown customer 'Nobody'"):
            find_customer(s, "Nobody")
        with pytest.raises(InvalidInputError, match="ambiguous"):
            find_customer(s, "Twin")
        assert [c.name for c in list_customers(s, tag="vip")] == ["Fabrikam"]
        assert list_customers(s, tag="vi") == []
        assert len(list_customers(s)) == 4
        assert [c.id for c in list_customers(s, limit=2)] == [a.id, b.id]


def test_find_customer_by_domain_or_name_in_any_case(engine):
    """The README's own example: `customers show contoso.onmicrosoft.com`."""
    with session_scope(engine) as s:
        a = customer(s, "Contoso Ltd", pcid="7c1d-tenant", domain="contoso.onmicrosoft.com")
        b = customer(s, "Fabrikam GmbH", domain="Fabrikam.com")
        assert find_customer(s, "contoso.onmicrosoft.com").id == a.id
        assert find_customer(s, "CONTOSO.onmicrosoft.com").id == a.id
        assert find_customer(s, "fabrikam.COM").id == b.id
        assert find_customer(s, "  contoso ltd ").id == a.id
        assert find_customer(s, "FABRIKAM GMBH").id == b.id
        with pytest.raises(NotFoundError) as unknown:
            find_customer(s, "northwind.onmicrosoft.com")
        message = str(unknown.value)
        assert "northwind.onmicrosoft.com" in message
        assert "domain" in message and "name" in message


def test_an_ambiguous_reference_names_the_candidates(engine):
    with session_scope(engine) as s:
        one = customer(s, "Twin", domain="twin-one.com")
        two = customer(s, "twin", domain="twin-two.com")
        shared = [customer(s, f"Branch {n}", domain="shared.example") for n in range(13)]
        with pytest.raises(InvalidInputError) as twins:
            find_customer(s, "TWIN")
        assert twins.value.kind == "invalid"
        assert [c.id for c in twins.value.candidates] == [one.id, two.id]
        message = str(twins.value)
        assert f"#{one.id} Twin (twin-one.com)" in message
        assert f"#{two.id} twin (twin-two.com)" in message
        assert "more" not in message
        with pytest.raises(InvalidInputError) as many:
            find_customer(s, "shared.example")
        assert len(many.value.candidates) == 10
        assert many.value.total == 13
        message = str(many.value)
        assert "13 customers" in message and "and 3 more" in message
        assert f"#{shared[0].id} Branch 0 (shared.example)" in message
        assert f"#{shared[12].id}" not in message


def test_a_domain_and_a_name_that_name_different_customers_are_ambiguous(engine):
    with session_scope(engine) as s:
        by_domain = customer(s, "Adatum Corp", domain="adatum.com")
        by_name = customer(s, "adatum.com")
        with pytest.raises(InvalidInputError) as both:
            find_customer(s, "adatum.com")
        assert {c.id for c in both.value.candidates} == {by_domain.id, by_name.id}
        # The id and the tenant id are unique and win over a name that looks like them.
        assert find_customer(s, str(by_domain.id)).id == by_domain.id
