users-title = Users
users-new = New user
users-search = Search
users-search-hint = name, display name or address
users-site = Site
users-all-sites = All sites
users-status = Status
users-any-status = Any
users-per-page = Per page
users-filter = Show
users-count = { $count ->
    [one] { $count } user
   *[other] { $count } users
}
users-none = No users match.
users-col-name = Address
users-col-display-name = Name
users-col-site = Site
users-col-status = Status
user-enabled = Active
user-disabled = Disabled
user-enabled-hint = A disabled user cannot log in and receives no mail; nothing is deleted.
user-new-title = New user
user-name = Name (the part before @)
user-name-hint = The official address will be name@{ $domain }.
user-display-name = Display name
user-site = Home site
user-password = Password
user-create = Create user
user-facts = Details
user-official = Official address
user-local = Local address
user-former = Former addresses (still delivered)
user-has-password = set
user-no-password = not set — the user cannot log in
user-groups = Lists and aliases
user-edit = Edit
user-move = Move to another site
user-move-to = New home site
user-move-hint = You will see what happens before anything changes.
user-move-button = Move…
user-move-nowhere = There is no other site with mailboxes.
user-reset-password = Reset password
user-new-password = New password
user-set-password = Set password
user-delete = Delete user…
ok-user-created = The user has been created.
ok-user-saved = Saved.
ok-user-deleted = The user has been deleted.
ok-user-moved = The user has been moved. The agents receive the change within seconds.
ok-password-set = The password has been set; the user's sessions have been ended.
move-title = Move { $name }
move-what = { $name } will live at { $site }: the mailbox and new mail go there.
move-new-local = New local address: { $address }
move-kept = Keeps working: { $address }
move-groups = { $count ->
    [0] The user is on no list.
    [one] The user stays on the { $count } list or alias that names them.
   *[other] The user stays on the { $count } lists and aliases that name them.
}
move-mail = Letters already in the mailbox at { $from } move to { $to } by themselves, keeping their folders and read marks; none is lost or doubled on the way.
move-no-agent = The new site has no agent yet: mail for the user will wait in queues until one is enrolled.
move-button = Move to { $site }
delete-user-title = Delete { $name }?
delete-user-what = { $address } will stop receiving mail; mail to it will be refused.
delete-user-groups = { $count ->
    [0] The user is on no list.
    [one] The user will be taken off { $count } list or alias.
   *[other] The user will be taken off { $count } lists and aliases.
}
delete-user-mailbox = This cannot be undone.
groups-title = Aliases and lists
groups-new = New alias or list
groups-none = There are no aliases or lists yet.
groups-col-address = Address
groups-col-kind = Kind
groups-col-policy = Who may post
groups-col-members = Members
groups-col-description = Description
kind-alias = Alias
kind-list = List
policy-default = Default (aliases: anyone; lists: our users)
policy-anyone = Anyone
policy-internal = Users of this domain only
policy-members = Members only
group-new-title = New alias or list
group-name = Name (the part before @)
group-kind = Kind
group-description = Description
group-policy = Who may post
group-policy-hint = Lists of the whole organisation should accept mail only from inside.
group-members = Members
group-members-hint = One address per line: users, aliases and lists of { $domain }, or outside addresses.
group-create = Create
group-members-title = Members
group-no-members = No members yet.
group-remove-member = Remove
group-remove-member-label = Remove { $address }
group-add-member = Add a member
group-add = Add
group-expansion = Where mail goes
group-expansion-total = { $count ->
    [one] { $count } mailbox in all
   *[other] { $count } mailboxes in all
}
mailboxes-count = { $count ->
    [one] { $count } mailbox
   *[other] { $count } mailboxes
}
group-external = Outside addresses
group-edit = Edit
group-delete = Delete…
ok-group-created = Created.
ok-group-saved = Saved.
ok-group-deleted = Deleted.
ok-member-added = The member has been added.
ok-member-removed = The member has been removed.
delete-group-title = Delete { $address }?
delete-group-what = Mail to { $address } will be refused.
delete-group-containing = { $count ->
    [0] No other list contains it.
    [one] It will be taken out of { $count } list that contains it.
   *[other] It will be taken out of { $count } lists that contain it.
}
sites-title = Sites
sites-intro = Each site has its own subdomain and one or more agents. MX priorities: level-0 sites first, then level-1 sites, the one with the most active users first; level 2 is not an MX.
sites-new = New site
sites-col-site = Site
sites-col-domain = Domain
sites-col-level = Level
sites-col-users = Users (active / all)
sites-col-mx = MX priority
sites-col-agents = Agents
site-id = Site id (subdomain)
site-id-hint = One DNS label; local addresses will be name@id.{ $domain }.
site-name = Name
site-level = Server level
level-0-description = Level 0 — main MX, no mailboxes
level-1-description = Level 1 — backup MX with local users
level-2-description = Level 2 — local users only, may sit behind NAT
level-name = { $level ->
    [0] Level 0
    [1] Level 1
   *[2] Level 2
}
site-create = Create site
site-facts = Details
site-users = { $active } active of { $count }
site-active-users = { $count ->
    [one] { $count } active user
   *[other] { $count } active users
}
site-not-mx = not an MX
site-edit = Edit
site-agents = Agents
site-delete = Delete site…
enroll-hint = A one-time code lets a new agent join this site. It is shown once.
enroll-button = Make an enrollment code
enroll-code-title = Enrollment code
enroll-code-intro = Run these commands on the site's machine: the first enrolls the agent (the code works once, until { $expires }), the second starts it. Point the site's name in DNS at that machine first.
ok-site-created = The site has been created.
ok-site-saved = Saved.
ok-site-deleted = The site has been deleted.
delete-site-title = Delete site { $site }?
delete-site-what = Site { $site } and its subdomain will be removed.
delete-site-agents = { $count ->
    [0] It has no agents.
    [one] Its { $count } agent will be forgotten.
   *[other] Its { $count } agents will be forgotten.
}
agents-none = No agent has enrolled yet.
agents-col-agent = Agent
agents-col-state = State
agents-col-applied = Version
agents-col-lag = Behind
agents-col-contact = Last contact
agent-in-sync = in sync
agent-catching-up = catching up
agent-stale = stale
agent-never = never seen
agent-pulls = pulls
lag-sets = { $count ->
    [0] —
    [one] { $count } change
   *[other] { $count } changes
}
dns-title = DNS records
dns-intro = Publish these records in the zone of { $domain }. They change when sites, levels or agents change.
dns-zone-header = Records for { $domain }, made by Pochta
dns-mx-comment = Mail exchangers: level 0 first, then level 1 by active users; every site subdomain uses the same servers
history-title = History
history-search = Search
history-search-hint = who, or a name or address that changed
history-none = Nothing found.
history-older = Older
history-details = { $bytes ->
    [one] Details ({ $bytes } byte on the wire)
   *[other] Details ({ $bytes } bytes on the wire)
}
history-more-ops = { $count ->
    [one] …and { $count } more change
   *[other] …and { $count } more changes
}
op-set-password = Password of { $name } changed
op-delete-group = Alias or list { $name } deleted
import-title = Import users
import-intro = Paste CSV or choose a file (UTF-8, or Windows-1251 as Russian Excel saves it; commas or semicolons): name, display name, site, and optionally password, enabled (yes/no) and quota (bytes, or with MB or GB: 500MB, 2GB; empty: the site's default). New names create users; existing ones are updated (a different site moves the user). Check the preview first: the import is one change, all or nothing.
import-file = CSV file
import-csv = CSV
import-preview = Preview
import-apply = Import
import-preview-title = What will change
import-summary = { $create } to create, { $update } to update, { $unchanged } unchanged, { $count ->
    [0] no errors.
    [one] { $count } error.
   *[other] { $count } errors.
}
import-done = Imported as version { $version }.
import-col-line = Line
import-col-action = Action
import-col-note = Note
import-create = create
import-update = update
import-unchanged = unchanged
import-invalid = error
import-field-display-name = display name
import-field-site = site (move)
import-field-enabled = enabled
import-field-password = password
dashboard-title = Dashboard
dashboard-version = directory version
dashboard-users = { $count ->
    [one] user
   *[other] users
}
dashboard-groups = { $count ->
    [one] alias or list
   *[other] aliases and lists
}
dashboard-sites = { $count ->
    [one] site
   *[other] sites
}
dashboard-stale = { $count ->
    [one] { $count } agent has not been heard from or is falling behind.
   *[other] { $count } agents have not been heard from or are falling behind.
}
dashboard-sites-title = Sites and agents
dashboard-traffic = Mail traffic
dashboard-period = Period
period-hour = last hour
period-day = last 24 hours
period-week = last 7 days
dashboard-no-data = No data yet: agents report their counters once they run the mail service.
traffic-received = Received
traffic-accepted = Accepted
traffic-delivered = Delivered
traffic-sent = Sent
traffic-queue = In queue
traffic-refused = Refused
traffic-refused-why = Why { $site } refused:
traffic-as-of = As of
traffic-moved = Moved mailboxes
traffic-moved-in-out = { $in } in / { $out } out
traffic-old = No report from this site's agents for over two hours: the figures may be out of date.
traffic-old-short = out of date
traffic-explained = Received counts incoming SMTP connections, as in the paper: every attempt, the refused ones included. Accepted: letters taken for delivery. Refused: letters and commands turned away (the reasons are below). Delivered: copies put into mailboxes at the site. Sent: letters handed to other servers, one per transaction. In queue: letters waiting at the time of the last report. Moved mailboxes: letters of mailboxes moving to or from the site, counted apart from mail. Agents report within 30 seconds of new traffic and hourly when idle.
refusal-unknown-recipient = unknown recipient
refusal-relay = relaying denied
refusal-greylisted = greylisted
refusal-dnsbl = on a block list
refusal-forged = forged sender (SPF, DKIM, DMARC)
refusal-spam = spam
refusal-virus = virus
refusal-rate = connection limits
refusal-auth = failed logins
refusal-quota = mailbox full
refusal-ours = trouble on our side (scanner, disk, queue)
refusal-other = other protocol errors
dashboard-scanner-deferring = { $scanner } of agent { $agent } ({ $site }) has not answered since { $since }: mail from outside is deferred (451) until it is back. Error: { $error }
dashboard-scanner-unscanned = { $scanner } of agent { $agent } ({ $site }) has not answered since { $since }: mail from outside is accepted unchecked. Error: { $error }
dashboard-dkim-deferring = Agent { $agent } ({ $site }) cannot DKIM-sign since { $since }: mail to outside domains waits in its queue until the key works. Error: { $error }
dashboard-dkim-unsigned = Agent { $agent } ({ $site }) cannot DKIM-sign since { $since }: mail to outside domains leaves unsigned and may be junked or refused. Error: { $error }
chart-title = Accepted letters over the period, per site
chart-caption = Letters accepted per site (UTC); in brackets, the total for the period:
dashboard-moving = Moving mailboxes:
dashboard-move = { $user } → { $site }: { $count } of { $total } { $total ->
    [one] letter
   *[other] letters
}
dashboard-move-bytes = { $moved } of { $total }
dashboard-move-rate = { $rate }/s, about { $eta } left
dashboard-moves-finished = Finished moves, last 7 days
moved-done = { $user } → { $site }: { $count } { $count ->
    [one] letter
   *[other] letters
} ({ $bytes }) in { $time }, { $when }
moved-kept = { $count } { $count ->
    [one] letter
   *[other] letters
} too large for the new site stayed at the old one
moved-back = { $user } → { $site }: moved back after { $count } { $count ->
    [one] letter
   *[other] letters
}, { $when }; the rest stayed where it was
moved-failed = { $user } → { $site }: stopped after { $count } { $count ->
    [one] letter
   *[other] letters
}, { $when }: { $reason }. The move resumes at the next check (within a minute)
user-moves = Mailbox moves
user-moving = Moving now:
dashboard-recent = Latest changes
dashboard-all-history = All history

users-col-usage = Mailbox usage
site-default-quota = Default quota
site-default-quota-hint = For users who have no quota of their own. Leave empty for no limit.
site-outgoing = Outgoing addresses
site-outgoing-hint = The public IPv4 and IPv6 addresses this site's mail leaves from, one per line: the DNS page lists them in SPF. Leave empty to use the addresses its agents advertise; behind NAT, give the router's address.
ok-mailbox-saved = Mailbox settings saved.
ok-app-password-revoked = App password revoked: programs that used it can no longer log in.
import-field-quota = quota
dns-no-mx = No site can receive mail from outside yet: publish MX once a level 0 or level 1 site's agent is enrolled and reporting
dns-a-comment = Addresses of the published sites' servers
dns-spf-comment = SPF: the addresses the sending sites' mail leaves from, each once (level 2 sends through them)
dns-dkim-comment = DKIM: every key of the domain; publish a new key before you activate it, keep a retired one until it is removed
dns-dmarc-comment = DMARC: starts with p=none, reports to postmaster
dns-mta-sts-comment = MTA-STS (RFC 8461): senders fetch the policy from https://mta-sts.{ $domain }/.well-known/mta-sts.txt (point mta-sts at this server); mode testing
dns-tls-rpt-comment = TLS-RPT (RFC 8460): where other servers report TLS failures
dns-not-yet-comment = Not published yet:
dns-not-yet-title = Sites not published yet
dns-not-yet-intro = These sites are left out of MX and SPF until they can take mail; publishing them early would send mail to a server that is not there.
dns-not-yet-reason = Why
dns-not-yet-no-agent = no agent is enrolled yet (enrol one on the site's page)
dns-not-yet-no-smtp = its agents run no SMTP listener (enrol with --smtp)
dns-not-yet-never-reported = its agent is enrolled but has never reported to this server
dns-dmarc-guidance = DMARC: start with p=none and read the reports for two weeks. When every legitimate sender passes, tighten to p=quarantine, then p=reject.
dns-check-title = Check DNS now
dns-check-intro = Looks every record up in DNS and compares it with what should be published.
dns-check-button = Check DNS
dns-check-name = Name
dns-check-type = Type
dns-check-result = Result
dns-check-correct = published and correct
dns-check-missing = missing
dns-check-different = different: DNS has { $found }
dns-check-unanswered = no answer from DNS: { $error }
dkim-title = DKIM keys
dkim-intro = Agents sign every letter that leaves for outside domains with the active keys. The private keys go to the agents in signed change sets and are never shown.
dkim-none = No key yet: mail to outside domains leaves unsigned, and large providers will junk or refuse it. Create a key and publish its record.
dkim-col-selector = Selector
dkim-col-type = Type
dkim-col-state = State
dkim-col-created = Created
dkim-col-actions = Actions
dkim-state-pending = waiting for publication: signs nothing yet
dkim-state-active = signing
dkim-state-retiring = retired: still published, removed on { $until }
dkim-activate = Activate
dkim-activate-hint = Activate a key only once its record is in DNS (check above). The key of the same type that signed until now is retired: it stays published for the retirement period, so letters signed with it still verify.
dkim-retire = Retire
dkim-delete = Delete
dkim-new-type = Key type
dkim-new-hint = RSA-2048 is verified everywhere. Ed25519 is a second signature beside RSA: some receivers do not check it.
dkim-new = Create key
ok-dkim-created = Key created. Publish its record, check DNS, then activate it.
ok-dkim-activated = Key activated: agents sign with it from their next letter.
ok-dkim-retired = Key retired: it signs nothing and stays published until its retirement period ends.
ok-dkim-deleted = Key deleted.
import-at-column = column { $column } ({ $name }): { $error }
import-created = Created
import-updated = Updated
import-export = Export all users:
import-export-excel = CSV for Excel
op-put-dkim-key = { $state ->
    [pending] DKIM key { $selector } ({ $algorithm }) created, waiting for publication
    [active] DKIM key { $selector } ({ $algorithm }) activated
   *[retiring] DKIM key { $selector } ({ $algorithm }) retired
}
op-delete-dkim-key = DKIM key { $selector } deleted
history-self-service = { $name } (themself)
logins-title = Paused logins
logins-intro = After failed passwords, strangers must wait before they try again; the address an account last logged in from never waits. One client address failing for many accounts is refused for all of them. Lift a pause when you know who it was.
logins-accounts = Accounts
logins-clients = Client addresses
logins-none = None.
logins-account-detail = { $count } failed attempts; { $wait }
logins-lift = Lift
ok-login-lifted = Lifted: the next attempt is let through.
names-title = Mailbox names
names-unicode = Allow letters of other alphabets in new names (иванов@, müller@)
names-unicode-hint = Off by default: names are Latin letters, digits, dots, hyphens and underscores. An address with other letters needs SMTPUTF8 on every server and client on the way, and many outside senders still cannot write to it. Names already given keep working either way.
ok-settings-saved = Settings saved.
op-unicode-names-on = New names may have letters of other alphabets
op-unicode-names-off = New names are Latin letters only

## History as an audit log
history-version = Version { $version }
history-reverts = reverts version { $version }
history-revert = Revert…
history-object = Record
history-object-hint = user, list, site or address
history-author = Changed by
history-anyone = Anyone
history-site = Site
history-all-sites = All sites
history-kind = Type
history-all-kinds = All types
history-kind-user = Users
history-kind-password = Passwords
history-kind-group = Aliases and lists
history-kind-site = Sites
history-kind-dkim = DKIM keys
history-kind-settings = Domain settings
history-since = From
history-until = To
history-clear = Clear filters
err-history-date = “{ $value }” is not a date; use YYYY-MM-DD.
ch-site-created = Site { $site } created (level { $level })
ch-site-changed = Site { $site } changed
ch-site-saved = Site { $site } saved
ch-site-deleted = Site { $site } deleted
ch-user-created = { $enabled ->
    [no] User { $name } created at { $site } (disabled)
   *[yes] User { $name } created at { $site }
}
ch-user-moved = { $name } moved from { $from } to { $to }
ch-user-disabled = { $name } disabled
ch-user-enabled = { $name } enabled
ch-user-changed = User { $name } changed
ch-user-saved = User { $name } saved
ch-user-deleted = User { $name } deleted
ch-user-deleted-at = User { $name } deleted (lived at { $site })
ch-password-removed = { $name } can no longer log in with a password
ch-app-password-added = App password “{ $label }” made for { $name }
ch-app-password-revoked = App password “{ $label }” of { $name } revoked
ch-group-created = { $kind ->
    [alias] Alias { $name } created ({ $count } members)
   *[list] Mailing list { $name } created ({ $count } members)
}
ch-member-added = { $member } added to { $group }
ch-member-removed = { $member } removed from { $group }
ch-group-changed = { $kind ->
    [alias] Alias { $name } changed
   *[list] Mailing list { $name } changed
}
ch-group-saved = { $kind ->
    [alias] Alias { $name } saved
   *[list] Mailing list { $name } saved
}
field-change = { $field }: { $old } → { $new }
field-display_name = Full name
field-quota = Quota
field-forward = Forwarding
field-forward_keep_copy = Keep a copy
field-vacation = Vacation reply
field-vacation_text = The vacation reply's text or dates changed
field-site_name = Name
field-level = Level
field-default_quota = Default quota
field-outgoing = Outgoing addresses
field-agents = Agents
field-kind = Type
field-description = Description
field-policy = Who may post
value-none = none
value-no-limit = no limit
value-yes = yes
value-no = no
revert-title = Revert version { $version }
revert-intro = A new change set will put back what version { $version } ({ $author }, { $when }) replaced:
revert-moves-back = { $name }'s mailbox moves back; letters already moved follow, and both addresses keep working.
revert-button = Revert
ok-reverted = Reverted. The agents receive the change within a second.

## Address trace
nav-trace = Trace
trace-title = Address trace
trace-intro = What the deployment would do with a letter for this address, decided by the rules the agents apply when it arrives.
trace-rcpt = Recipient
trace-from = Sender (optional)
trace-from-hint = Members-only lists check it; leave it empty for a bounce (the null sender).
trace-internal = The sender is one of our users, logged in
trace-entry = The letter enters at
trace-entry-hint = Mail from outside enters at the first MX; a user's own letter at his site.
trace-button = Trace
trace-result = What happens
trace-named-user = { $enabled ->
    [no] { $address } is the mailbox of { $name } at { $site }, disabled.
   *[yes] { $address } is the mailbox of { $name } at { $site }.
}
trace-named-group = { $kind ->
    [alias] { $address } is an alias with { $count } members; who may post: { $policy }.
   *[list] { $address } is a mailing list with { $count } members; who may post: { $policy }.
}
trace-named-all = { $address } reaches every enabled user of the domain (our own users only).
trace-named-all-site = { $address } reaches every enabled user of { $site } (our own users only).
trace-named-nobody = No user, alias or list is called { $address }.
trace-named-outside = { $domain } is not our domain.
trace-refused = Refused at RCPT TO with { $code } { $status }: { $reason }.
trace-reason-not_ours = we do not relay mail from strangers to other domains
trace-reason-unknown_recipient = there is no such user, alias or list
trace-reason-disabled = the mailbox is disabled
trace-reason-not_allowed = the sender may not post to { $group }
trace-accepted = Accepted: { $mailboxes } mailboxes at { $sites } sites and { $outside } outside addresses, one copy per site.
trace-empty = Accepted, but nobody receives it (an empty list, or a site without users).
trace-col-site = Site
trace-col-mailboxes = Mailboxes
trace-col-way = How the copy gets there
trace-hop-here = Filed at { $site }, where the letter enters.
trace-hop-direct = One copy from { $from } straight to the agent of { $site }, over pinned TLS.
trace-hop-waits = Waits in the queue at { $from }: { $site } has no agent taking mail yet; retried until one enrolls.
trace-outside = { $addresses }: sent by { $from } to the MX of { $domain } (or to its smarthost, if it has one).
trace-outside-relay = { $addresses }: handed by { $from } to { $relay }, which sends it to the MX of { $domain }.
trace-forward = { $keep ->
    [yes] { $name } forwards to { $to } and keeps a copy; { $site } sends it on.
   *[no] { $name } forwards to { $to } without keeping a copy; { $site } sends it on.
}
trace-vacation = { $name } has a vacation reply on: the sender gets an automatic answer from the home site.
trace-this-address = Where mail to this address goes

## Mail queues
nav-queue = Queues
queue-title = Mail queues
queue-intro = What waits at each agent of a site, and why. The agent answers from its own queue and applies what you choose within a second.
queue-site = Site
queue-search = Sender or recipient
queue-search-hint = part of an address
queue-no-agents = This site has no agents yet.
queue-agent = Agent { $agent }
queue-pulls = Agent { $agent } fetches its changes itself, so the server cannot connect to it. At its site, run: pochta-agent --data <folder> queue list
queue-unreachable = Agent { $agent } did not answer: { $reason }
queue-count = { $count ->
    [0] The queue is empty.
    [one] { $count } letter waits.
   *[other] { $count } letters wait.
}
queue-count-matched = { $count } of { $total } letters match.
queue-null-sender = <> (a bounce)
queue-next-now = now
queue-next-in = in { $time }
queue-choose = Choose
queue-choose-letter = Choose letter { $id }
queue-col-age = Waiting
queue-col-from = From
queue-col-waiting = Not delivered yet — last error
queue-col-attempts = Attempts
queue-col-next = Next attempt
queue-col-size = Size
queue-retry = Retry now
queue-bounce = Bounce
queue-delete = Delete
queue-confirm-bounce = { $count ->
    [one] Bounce { $count } letter?
   *[other] Bounce { $count } letters?
}
queue-confirm-bounce-what = Agent { $agent } stops trying; each sender gets a delivery failure notice for the recipients not reached yet. Letters:
queue-confirm-delete = { $count ->
    [one] Delete { $count } letter?
   *[other] Delete { $count } letters?
}
queue-confirm-delete-what = Agent { $agent } removes them from its queue for good; nobody is told. Letters:
ok-queue-retry = The agent tries the chosen letters now.
ok-queue-bounce = The chosen letters are bounced to their senders.
ok-queue-delete = The chosen letters are deleted from the queue.

## Bulk actions on the users list
bulk-all = Choose every user on this page
bulk-choose = Choose { $address }
bulk-action = With the chosen users
bulk-disable = Disable
bulk-enable = Enable
bulk-move = Move to the site
bulk-add = Add to the alias or list
bulk-export = Export as CSV
bulk-delete = Delete
bulk-site = Site (to move to)
bulk-group = Alias or list (to add to)
bulk-apply = Apply…
bulk-confirm-disable = { $count ->
    [one] Disable { $count } user?
   *[other] Disable { $count } users?
}
bulk-confirm-enable = { $count ->
    [one] Enable { $count } user?
   *[other] Enable { $count } users?
}
bulk-confirm-move = { $count ->
    [one] Move { $count } user to { $site }?
   *[other] Move { $count } users to { $site }?
}
bulk-confirm-add = { $count ->
    [one] Add { $count } user to { $group }?
   *[other] Add { $count } users to { $group }?
}
bulk-confirm-delete = { $count ->
    [one] Delete { $count } user?
   *[other] Delete { $count } users?
}
bulk-what-disable = They can no longer log in, and mail to them is refused; their sessions end. Their mailboxes stay.
bulk-what-enable = They can log in and receive mail again.
bulk-what-move = Their mailboxes move to the new site with their letters; mail keeps arriving during the move, and their old site addresses keep working.
bulk-what-add = Their addresses are added as members; they get the alias's or list's mail from now on.
bulk-what-delete = Their accounts are deleted and they leave every alias and list; their sessions end. The history can bring the accounts back, not the letters.
bulk-unchanged = { $changed } of { $count } change; the others already are so.
bulk-and-more = and { $count } more
bulk-confirm-button = Apply
ok-bulk-done = Done: the chosen users are changed.
ok-bulk-nothing = Nothing to change: the chosen users already were so.
user-add-to-group = Add to an alias or list
user-add-to-group-button = Add
user-new-alias = New alias for this user

## Administrators
nav-admins = Administrators
admins-title = Administrators
admins-col-name = Name
admins-col-created = Created
admins-col-state = State
admins-col-actions = Actions
admins-you = you
admins-enabled = Active
admins-disabled = Disabled
admins-reset = New password
admins-reset-label = New password for { $name }
admins-disable = Disable
admins-disable-label = Disable { $name }
admins-enable = Enable
admins-enable-label = Enable { $name }
admins-new = New administrator
admins-name-hint = Lower-case Latin letters, digits, dots, hyphens and underscores; this is the login.
admins-create = Create
admins-password-for = Password for { $name }
admins-password-once = Shown only now: hand it over in person or by phone. They log in with their name and this password, and choose their own straight away.
ok-admin-created = Administrator { $name } created.
ok-admin-reset = { $name } has a new password; their sessions have ended.
ok-admin-disabled = The administrator is disabled: their sessions have ended and their API tokens no longer work.
ok-admin-enabled = The administrator can log in again.

## Agents on the site page
agents-col-endpoints = Reached at
agent-endpoint-pulls = fetches its changes itself (no URL)
agent-endpoint-no-smtp = takes no mail (no SMTP listener)
agent-queue-link = Queue
agent-forget = Forget…
forget-agent-title = Forget agent { $agent }?
forget-agent-access = The agent can no longer fetch changes or report; its enrollment ends now.
forget-agent-mail = Its SMTP endpoint leaves the directory: other sites stop sending mail for { $site } to it.
forget-agent-queue = Letters already in its queue stay on its machine until an agent runs there again.
forget-agent-last = { $site } then has no agent taking mail: mail for its users waits in the other sites' queues (and they retry) until an agent enrolls.
forget-agent-others = { $count ->
    [one] { $count } other agent of the site keeps taking its mail.
   *[other] { $count } other agents of the site keep taking its mail.
}
forget-agent-again = To bring it back, make a new enrollment code on this page and enroll the agent again.
forget-agent-button = Forget the agent
ok-agent-forgotten = The agent is forgotten.
agent-facts = version { $version } · { $free } free of { $total }

## Own account and two-factor login
account-title = My account
totp-title = Two-factor login
totp-on = On
totp-off = Off
totp-off-intro = With two-factor login, a stolen password is not enough: logging in also takes a code from an authenticator app on your phone (Google Authenticator, Microsoft Authenticator, Aegis, FreeOTP, 1Password and the like). The API asks for the code too when you create a token.
totp-on-intro = Logging in takes your password and a code from your app. If you change phones, turn it off here and set it up again on the new one.
totp-codes-left = { $count ->
    [one] { $count } recovery code left.
   *[other] { $count } recovery codes left.
}
totp-set-up = Set up two-factor login
totp-step-scan = 1. Scan this QR code with your authenticator app.
totp-step-key = Cannot scan? Add an account in the app by hand with this key (time-based):
totp-step-code = 2. Enter the 6-digit code the app now shows
totp-turn-on = Turn on
totp-current-code = Current code from the app
totp-renew = New recovery codes
totp-turn-off = Turn off two-factor login
totp-codes-title = Your recovery codes
totp-codes-once = Shown only now. Print them or keep them in a password manager: each one logs you in once without your phone. Making new ones cancels these.
ok-totp-on = Two-factor login is on. From your next login you will be asked for a code.
ok-totp-codes = New recovery codes are made; the old ones no longer work.
ok-totp-off = Two-factor login is off: your password alone logs you in.
admins-col-totp = Two-factor
admins-totp-off = Turn off two-factor
admins-totp-off-label = Turn off two-factor login for { $name }
ok-admin-totp-off = Two-factor login is off for this administrator and their sessions have ended: they log in with the password alone and can set it up again on their account page.
admins-must-change = password not chosen yet
account-password-intro = Your other sessions end when you change it. The API tokens you made keep working.
admins-col-sites = Sites
admins-whole-domain = Whole domain
admins-sites-change = Sites of { $name }
admins-sites-hint = An administrator limited to sites sees and changes only the users, queues and agents of those sites. Leave all unticked for the whole domain.
admins-sites-save = Save sites
ok-admin-sites-saved = The administrator's sites are saved; their next page shows only what they may touch.
