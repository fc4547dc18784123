"""Run folders: writing them (folders), bringing one in from another machine (imports), and the file stems both use."""
