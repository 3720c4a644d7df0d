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
nav-me = My account
lang-switch = Language
logout = Log out
cancel = Cancel
save = Save
copy = Copy
delete-button = Delete
error-title = Something went wrong
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
