import pytest

from book_builders import customer
from riskdesk.book.customers import find_customer, list_customers
from riskdesk.db.engine import session_scope
from riskdesk.errors import NotFoundError


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
        with pytest.raises(NotFoundError, match="ambiguous"):
            find_customer(s, "Twin")
        assert [c.name for c in list_customers(s, tag="vip")] == ["Fabrikam"]
        assert list_customers(s, tag="vi") == []
        assert len(list_customers(s)) == 4
        assert [c.id for c in list_customers(s, limit=2)] == [a.id, b.id]
