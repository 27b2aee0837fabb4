"""CBR (Cloud Backup and Recovery, ``/v3``): its client, answer table, observe, rules, planning and service.

Import from the modules: this package stays light, so the registry can read ``entries`` alone.
"""
