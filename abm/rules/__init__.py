"""The weekly rules, one module each, in the order of the schedule (see ``abm.model``)."""
