"""The routes of the hub's pages, one `APIRouter` per area, included by `create_app`.

- `followup`: the follow-up pages (`/followup`, `/followup/<tenant>`) and the index;
- `runs`: the run overview (`/runs`, `/api/runs`) and approving a held run;
- `extracts`: the extract list and downloads;
- `health`: `/api/health`;
- `access_log`: who saw and downloaded what (`/access-log`, `/access-log.csv`), for admins.
"""
