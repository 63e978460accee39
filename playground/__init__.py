"""The Django site: scenarios in the database, the REST API, the live websocket and the pages.

``services`` is the only module that touches both the allocator engine and the database; the API
(``api``), the websocket consumer (``consumers``) and the pages (``views``) all call it.
"""
