app-name = Pochta
skip-to-content = Skip to content
footer = Pochta — one mail domain across many sites
nav-label = Main
nav-dashboard = Dashboard
nav-users = Users
nav-groups = Aliases and lists
nav-sites = Sites
nav-dns = DNS
nav-history = History
nav-import = Import
nav-logins = Logins
nav-me = My account
lang-switch = Language
logout = Log out
cancel = Cancel
save = Save
copy = Copy
delete-button = Delete
error-title = Something went wrong
error-title-not-found = Page not found
error-title-forbidden = No access
error-title-bad-request = The address is not right
error-status = HTTP status { $status }
error-home = Back to the start page
pager-label = Pages
pager-first = First
pager-prev = Previous
pager-next = Next
pager-last = Last
pager-position = Page { $page } of { $pages }
password-rules = At least { $min } characters, not only letters or only digits.
password-rules-optional = Optional. At least { $min } characters, not only letters or only digits. Without a password the user cannot log in yet.
ago-just-now = just now
ago-seconds = { $count ->
    [one] { $count } second ago
   *[other] { $count } seconds ago
}
ago-minutes = { $count ->
    [one] { $count } minute ago
   *[other] { $count } minutes ago
}
ago-hours = { $count ->
    [one] { $count } hour ago
   *[other] { $count } hours ago
}
ago-days = { $count ->
    [one] { $count } day ago
   *[other] { $count } days ago
}
dur-seconds = { $count } s
dur-minutes = { $count } min
dur-hours = { $hours } h { $minutes } min

# Sizes, in binary multiples (1 MB = 1024 KB) as mail quotas are counted.
size-bytes = { $size } B
size-kb = { $size } KB
size-mb = { $size } MB
size-gb = { $size } GB
size-tb = { $size } TB
unit-mb = MB
unit-gb = GB
usage-of = { $used } of { $quota }
usage-unlimited = { $used } (no limit)
usage-unknown-of = not reported yet (quota { $quota })
usage-unknown = not reported yet
quota-unlimited = no limit
quota-site-default = the site's default quota

mailbox-title = Mailbox
mailbox-usage = Mailbox
mailbox-quota = Quota
mailbox-quota-unit = Unit
mailbox-quota-hint = Leave empty for the site's default ({ $quota }).
mailbox-quota-hint-none = Leave empty for the site's default (no limit).
mailbox-forward = Forwarding
mailbox-forward-to = Forward mail to (one address per line)
mailbox-forward-hint = At most { $max } addresses, in this domain or outside. Leave empty to stop forwarding.
mailbox-forward-off = off
mailbox-keep-copy = Keep a copy in this mailbox
mailbox-vacation = Vacation auto-reply
mailbox-vacation-on = Send an auto-reply
mailbox-vacation-start = First day
mailbox-vacation-end = Last day
mailbox-vacation-dates-hint = Days in UTC. Without a first day the reply starts now; without a last day it runs until switched off.
mailbox-vacation-subject = Subject
mailbox-vacation-text = Text
mailbox-vacation-days = Reply to the same sender once in (days)
mailbox-vacation-days-hint = From 1 to 365 days; 7 if left empty.
mailbox-vacation-is-on = on
mailbox-vacation-off = off
mailbox-save = Save mailbox settings

client-title = Mail program settings
client-none = The servers of this site have not reported their addresses yet, so there are no settings to show. Ask your administrator.
client-intro = User name: { $address }, and your password or an app password (see below). Use one incoming server (IMAP or POP3) and the outgoing one (SMTP).
client-col-protocol = Protocol
client-col-server = Server
client-col-port = Port
client-col-security = Security
client-imap = IMAP (incoming)
client-pop3 = POP3 (incoming)
client-smtp = SMTP (outgoing)
client-tls = SSL/TLS
client-starttls = STARTTLS
tz-title = Time zone
tz-now = Times are shown in { $zone }.
tz-zone = Time zone
tz-hint = A zone name such as Europe/Moscow or Asia/Yekaterinburg; remembered in this browser.
tz-save = Save
err-time-zone = “{ $zone }” is not a known time zone; pick one from the list (e.g. Europe/Moscow).
password-show = Show
password-hide = Hide
password-generate = Generate a password

apps-title = App passwords
apps-intro = A password of its own for each mail program — phone, laptop, tablet. It works in place of your account password for IMAP, POP3 and SMTP, and when a device is lost you revoke only its password.
apps-none = No app passwords yet.
apps-label = Name
apps-created = Created
apps-actions = Actions
apps-revoke = Revoke
apps-revoke-named = Revoke the app password “{ $label }”
apps-new-label = Name of the new app password
apps-new-hint = Where you will use it, for example “Phone” or “Thunderbird at home”.
apps-create = Create app password
apps-made = App password “{ $label }” is ready. Enter it in the mail program instead of your account password:
apps-made-once = It is shown only this once. Copy it now; if it is lost, revoke it and create another.
