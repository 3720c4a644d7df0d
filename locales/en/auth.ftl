login-title = Log in
login-intro = Administrators log in with their name, everyone else with their address at { $domain }.
login-name = Name or e-mail address
login-name-hint = For example ivanov@{ $domain }
login-password = Password
login-button = Log in
login-failed = Wrong name or password.
login-too-many = { $minutes ->
    [one] Too many failed attempts. Try again in { $minutes } minute.
   *[other] Too many failed attempts. Try again in { $minutes } minutes.
}
login-too-many-seconds = { $seconds ->
    [one] Too many failed attempts. Try again in { $seconds } second.
   *[other] Too many failed attempts. Try again in { $seconds } seconds.
}
me-title = My account
me-addresses = My addresses
me-lists = Lists and aliases I receive mail from
me-no-lists = You are not on any list.
me-password = Change password
me-password-intro = After the change, you are logged out everywhere else, and your mail programs need the new password.
me-current-password = Current password
me-new-password = New password
me-confirm-password = New password again
me-change-password = Change password
ok-password-changed = Your password has been changed. Your other sessions have been ended.

me-mailbox = Forwarding and auto-reply
me-mailbox-intro = Your quota is set by the administrator.

## Two-factor login
login-code-title = Code from your app
login-code-intro = The password for { $name } is right. Now enter the 6-digit code your authenticator app shows for Pochta.
login-code-label = Code
login-code-hint = Lost your phone? Enter one of your recovery codes instead (each works once).
login-code-button = Confirm
login-code-restart = Log in as someone else

## A password of one's own at the first login
renew-title = Choose your password
renew-intro = { $name }, the password you logged in with was made by another administrator. Choose one only you know before you go on.
renew-new = New password
renew-confirm = New password again
renew-hint = At least 10 characters, not only letters or only digits.
renew-button = Save and continue
