"""Tables and figures: our numbers beside the papers'."""
