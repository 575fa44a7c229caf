"""The gazetteer: place-name search (``query``) and reverse geocoding (``reverse``) over the layers
a caller may read, served by ``api``. Which layers take part, with which columns and in which
role, is read from the registry (``searchable``, ``search_rank``, ``search_type``,
``search_label``, ``reverse_role``); nothing here names a layer."""
