"""CSBS (Cloud Server Backup Service, ``/v1``): its client, answer table, observe, rules, planning and service.

Import from the modules: this package stays light, so the registry can read ``entries`` alone.
"""
