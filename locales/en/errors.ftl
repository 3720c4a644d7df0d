err-not-found = Not found.
err-page-not-found = There is no such page.
err-conflict = This conflicts with the current state; reload the page and try again.
err-unauthorized = You are not allowed to do that.
err-forbidden = This page is not available to you.
err-csrf = The form has expired or did not come from this site. Reload the page and try again.
err-bad-form = The form could not be read. Reload the page and try again.
err-too-large = The form is too large.
err-internal = An internal error occurred; it has been logged. Please try again later.
err-invalid = The input is not valid.
err-user-name = A name may contain letters (of one alphabet), digits, dots, hyphens and underscores, up to 64 characters, and must not start or end with a dot.
err-group-name = A name may contain letters (of one alphabet), digits, dots, hyphens and underscores, up to 64 characters, and must not start or end with a dot.
err-site-id = A site id is one DNS label: lower-case Latin letters, digits and hyphens.
err-site-name = Give the site a name of one line, at most 200 characters.
err-level = Choose a server level: 0, 1 or 2.
err-no-such-site = There is no site “{ $site }”.
err-site-exists = Site “{ $site }” already exists.
err-site-not-empty = { $count ->
    [one] Site “{ $site }” still has { $count } user; move them first.
   *[other] Site “{ $site }” still has { $count } users; move them first.
}
err-no-mailboxes = Site “{ $site }” is level 0 and keeps no mailboxes.
err-no-such-user = There is no user “{ $name }”.
err-user-exists = User “{ $name }” already exists.
err-no-such-group = There is no alias or list “{ $name }”.
err-group-exists = “{ $name }” already exists.
err-name-taken = { $kind ->
    [user] The name “{ $name }” is already taken by a user.
    [alias] The name “{ $name }” is already taken by an alias.
   *[list] The name “{ $name }” is already taken by a list.
}
err-name-reserved = The name “{ $name }” is reserved.
err-name-char = The name “{ $name }” contains “{ $char }”. Use letters, digits, dots, hyphens and underscores.
err-name-dots = The name “{ $name }” must not start or end with a dot or have two dots in a row.
err-name-mixed-scripts = The name “{ $name }” mixes letters of different alphabets (for example Latin and Cyrillic). Type it in one alphabet.
err-name-confusable = The name “{ $name }” looks the same as the existing name “{ $other }”. Choose a name that cannot be mistaken for it.
err-self-member = { $kind ->
    [alias] An alias cannot contain itself.
   *[list] A list cannot contain itself.
}
err-member-address = “{ $address }” is not an e-mail address.
err-member-unknown = { $address } is not a user, alias or list of this domain.
err-member-site = { $address }: { $domain } is not a site of this domain.
err-not-a-member = { $address } is not a member of “{ $name }”.
err-resolve = Mail to { $address } cannot be delivered.
err-group-kind = Choose alias or list.
err-group-policy = Choose who may post.
err-move-same-site = “{ $name }” already lives at site “{ $site }”.
err-password-short = The password must have at least { $min } characters.
err-password-long = The password is too long.
err-password-simple = The password must not be only letters or only digits.
err-password-mismatch = The two new passwords differ.
err-password-same = The new password is the same as the current one.
err-current-password = The current password is wrong.
err-import-empty = The file has no users.
err-import-too-long = At most { $max } lines per import.
err-import-columns = { $count ->
    [one] Expected 3 to 7 columns, found { $count }.
   *[other] Expected 3 to 7 columns, found { $count }.
}
err-import-duplicate = “{ $name }” appears twice in the file.
err-import-enabled = The “enabled” column takes yes or no.

err-bad-day = “{ $day }” is not a date: write it as YYYY-MM-DD.
err-too-many-forwards = Mail can be forwarded to at most { $max } addresses.
err-forwards-to-self = Mail cannot be forwarded to the user's own address.
err-vacation-subject = The auto-reply needs a subject of at most { $max } characters.
err-vacation-text = The auto-reply needs a text of at most { $max } bytes.
err-vacation-dates = The auto-reply cannot end before it starts.
err-vacation-interval = Reply to the same sender at most once in 1 to { $max } days.
err-control-characters = The text contains control characters; remove them.
err-quota = “{ $value }” is not a quota: give a number of megabytes or gigabytes (bytes in the API), more than zero and at most 1 PB.
err-forward-address = “{ $address }” is not an e-mail address.
err-dkim-selector = A DKIM selector is one DNS label: lower-case Latin letters, digits and hyphens.
err-dkim-no-such-key = There is no DKIM key with selector { $selector }.
err-dkim-key = The key of selector { $selector } cannot be used or changed; create a new selector.
err-dkim-another-active = Key { $selector } of this type is already signing; activate the new key with a rotation, which retires the old one.
err-dkim-algorithm = Choose RSA or Ed25519.
err-dkim-exists = Selector { $selector } is taken; choose another.
err-outgoing-address = { $address } is not an IPv4 or IPv6 address.
err-outgoing-many = List at most { $max } outgoing addresses.
err-bad-query = The address has a parameter this page cannot read. Open the page from the menu.
err-too-long = At most { $max } characters, this has { $count }.
err-name-non-ascii = The name “{ $name }” has letters outside the Latin alphabet. Use Latin letters, digits, dots, hyphens and underscores (many outside servers cannot write to other addresses), or allow other alphabets on the Sites page.
err-revert-no-prior = Version { $version } was written before the history kept what a change replaced, so it cannot be reverted automatically. Change the records back by hand.
err-revert-dkim = DKIM key changes are not reverted here: create, activate or retire keys on the DNS page.
err-revert-changed-since = Later changes touch the same records (versions { $versions }). Revert those first, newest first, or change the records by hand.
err-no-such-version = There is no version { $version } in the history.
err-trace-rcpt = The recipient is not an address: { $reason }
err-trace-from = The sender is not an address: { $reason }
err-trace-no-sites = There are no sites yet: create one first.
err-no-such-agent = There is no agent { $agent }.
err-queue-none-chosen = Choose at least one letter.
err-queue-too-many = At most { $max } letters at once.
err-queue-pulls = Agent { $agent } fetches its changes itself and cannot be reached from the server; use pochta-agent queue at its site.
err-queue-unreachable = Agent { $agent } did not answer: { $reason }
err-bulk-none = Choose at least one user.
err-bulk-too-many = At most { $max } users at once.
err-admin-name = An administrator name is 1 to { $max } lower-case Latin letters, digits, dots, hyphens and underscores.
err-admin-taken = There is already an administrator { $name }.
err-no-such-admin = There is no administrator { $name }.
err-admin-disable-self = You cannot disable yourself: ask another administrator.
err-admin-disable-last = The last active administrator cannot be disabled: nobody could log in afterwards.
err-revert-nothing = Version { $version } has nothing to put back: the directory is already as it was before it (an agent's enrollment, for example, is undone by forgetting the agent on its site's page).
err-totp-code = That code is not right, or it was already used. Enter the code your app shows now, or a recovery code.
err-totp-key = The key is damaged. Start the setup again.
err-totp-off = Two-factor login is already off.
err-totp-needed = This administrator has two-factor login on: the code from the app is needed too.
err-admin-must-change = This administrator must first choose a new password in the web application.
err-scope-domain = Only an administrator of the whole domain can do this; you administer only some sites.
err-scope-site = Site { $site } is not one of the sites you administer.
err-scope-member = { $address } is not one of the users you administer.
err-import-not-yours = { $name } is a user of a site you do not administer.
err-admin-sites-self = You cannot change your own sites: ask another administrator.
err-app-passwords-too-many = A user can have at most { $max } app passwords: revoke one first.
err-app-password-label = Name the app password (up to { $max } characters), for example “Phone”.
err-app-passwords-malformed = The app passwords of this user are malformed.
err-no-such-app-password = There is no such app password; perhaps it was already revoked.
